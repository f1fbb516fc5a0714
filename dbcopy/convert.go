package dbcopy

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
)

// convert turns a value as the SQLite driver returns it into one for a
// PostgreSQL column of type pgType (information_schema's data_type).
//
// SQLite stores few types and the driver guesses from the declared type:
// a BOOLEAN comes back as bool or int64, a DATETIME as time.Time, or as a
// string it could not parse, and a REAL expiry (scs's sessions) as a
// julian day number. PostgreSQL wants booleans and timestamps.
func convert(v any, pgType string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch pgType {
	case "boolean":
		return toBool(v)
	case "timestamp with time zone", "timestamp without time zone":
		return toTime(v)
	case "bytea":
		if s, ok := v.(string); ok {
			return []byte(s), nil
		}
	case "text", "USER-DEFINED", "character varying":
		// citext is USER-DEFINED. The driver returns a TEXT value stored as
		// a blob as []byte, which pgx would send as bytea.
		if b, ok := v.([]byte); ok {
			return string(b), nil
		}
	}
	return v, nil
}

func toBool(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case int64:
		return x != 0, nil
	case float64:
		return x != 0, nil
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		if err != nil {
			return nil, fmt.Errorf("want a boolean, have %q", x)
		}
		return b, nil
	}
	return nil, fmt.Errorf("want a boolean, have a %T", v)
}

// unixEpochJulianDay is 1970-01-01T00:00:00Z as a julian day number.
const unixEpochJulianDay = 2440587.5

func toTime(v any) (any, error) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), nil
	case float64:
		// SQLite's date functions read a number as a julian day; scs's
		// sqlite3store writes its expiry with julianday().
		secs := (x - unixEpochJulianDay) * 86400
		whole, frac := math.Modf(secs)
		return time.Unix(int64(whole), int64(frac*1e9)).UTC(), nil
	case int64:
		return time.Unix(x, 0).UTC(), nil
	case string:
		s := strings.TrimSuffix(strings.TrimSpace(x), "Z")
		for _, layout := range sqlite3.SQLiteTimestampFormats {
			if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
				return t.UTC(), nil
			}
		}
		return nil, fmt.Errorf("want a date and time, have %q", x)
	}
	return nil, fmt.Errorf("want a date and time, have a %T", v)
}

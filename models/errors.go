package models

import (
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// ConflictError refuses a well-formed request that clashes with what is
// stored: a name already taken, the last active Admin, a role still in use.
// Field names the form field the message belongs beside ("" for the form
// as a whole). Handlers answer it with 409 in the API.
type ConflictError struct {
	Field   string
	Message string
}

func (e *ConflictError) Error() string { return e.Message }

// ForbiddenError refuses a change the acting user may not make even though
// they may use the page: granting a permission they do not hold, or
// changing a user who holds more than they do. Handlers answer it with 403
// in the API.
type ForbiddenError struct {
	Field   string
	Message string
}

func (e *ForbiddenError) Error() string { return e.Message }

// isRefusal reports whether err is one of the errors a handler shows to
// the user as it is (a validation, conflict or permission message).
func isRefusal(err error) bool {
	var fe FieldErrors
	var conflict *ConflictError
	var forbidden *ForbiddenError
	return errors.As(err, &fe) || errors.As(err, &conflict) || errors.As(err, &forbidden)
}

// writeError is what a write's caller gets for err: a taken unique key
// becomes taken (nil keeps it an internal error), ErrNotFound and refusals
// pass as they are, and anything else is wrapped with what was being done.
func writeError(err error, taken *ConflictError, what string) error {
	switch {
	case err == nil:
		return nil
	case taken != nil && errors.Is(err, gorm.ErrDuplicatedKey):
		return taken
	case errors.Is(err, ErrNotFound), isRefusal(err):
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// nameTaken is the conflict for a name another role, template or variable
// already has; next says what to do instead.
func nameTaken(kind, name, next string) *ConflictError {
	return &ConflictError{Field: "name", Message: fmt.Sprintf("A %s named “%s” already exists; %s.", kind, name, next)}
}

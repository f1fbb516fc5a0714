package models

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

package redisconf

// The reasons CONFIG SET gives for refusing a parameter before looking at its value, worded
// as Redis 7.0's.
const (
	ReasonImmutable = "can't set immutable config"
	ReasonProtected = "can't set protected config"
	ReasonDuplicate = "duplicate parameter"
)

// UnknownError is CONFIG SET naming a parameter Redis does not have.
type UnknownError struct {
	Name string // as the client typed it
}

func (e *UnknownError) Error() string {
	return "ERR Unknown option or number of arguments for CONFIG SET - '" + e.Name + "'"
}

// RedisError is the reply (without '-'); it is Error().
func (e *UnknownError) RedisError() string { return e.Error() }

// SetError is CONFIG SET refusing a parameter or its value: immutable, protected, given
// twice, a value the parameter does not take, or a Hook refusing to apply it.
type SetError struct {
	// Arg is the parameter the reply names: as typed for immutable, protected and duplicate
	// parameters, the lowercase name otherwise (Redis's quirk, kept).
	Arg    string
	Reason string
}

func (e *SetError) Error() string {
	return "ERR CONFIG SET failed (possibly related to argument '" + e.Arg + "') - " + e.Reason
}

// RedisError is the reply (without '-'); it is Error().
func (e *SetError) RedisError() string { return e.Error() }

// reason is a value parser's refusal: the text after " - " in a SetError.
type reason string

func (r reason) Error() string { return string(r) }

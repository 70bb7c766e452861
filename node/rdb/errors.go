package rdb

// Error is a malformed payload as a client sees it: its text is the error
// reply redis-server 7.0 gives for that payload, error code included
// ("ERR ..."), so a command can send it as is.
type Error string

// Error returns the reply text.
func (e Error) Error() string { return string(e) }

// The payload errors, worded exactly as redis-server 7.0's replies.
const (
	// ErrPayload is the reply of RESTORE and FUNCTION RESTORE to a payload
	// shorter than its trailer, of a newer RDB version than Version, or
	// whose checksum does not match.
	ErrPayload Error = "ERR DUMP payload version or checksum are wrong"

	// ErrNotFunction is FUNCTION RESTORE's reply to an opcode other than a
	// library's.
	ErrNotFunction Error = "ERR given type is not a function"

	// ErrLibraryPayload is FUNCTION RESTORE's reply when a library's code
	// (opcode 245) cannot be read.
	ErrLibraryPayload Error = "ERR Failed loading library payload"

	// The next five are FUNCTION RESTORE's replies when a field of a
	// library in the format of Redis 7.0's release candidates (opcode 246)
	// cannot be read.

	// ErrLibraryName: the library's name.
	ErrLibraryName Error = "ERR Failed loading library name"
	// ErrEngineName: its engine's name.
	ErrEngineName Error = "ERR Failed loading engine name"
	// ErrLibraryDescIndicator: the length saying whether a description
	// follows.
	ErrLibraryDescIndicator Error = "ERR Failed loading library description indicator"
	// ErrLibraryDesc: the description.
	ErrLibraryDesc Error = "ERR Failed loading library description"
	// ErrLibraryBlob: the code.
	ErrLibraryBlob Error = "ERR Failed loading library blob"
)

// formatError is a low-level decoding failure. The decoders of a whole
// payload turn it into the Error Redis replies with; it stays inside the
// package.
type formatError string

func (e formatError) Error() string { return "rdb: " + string(e) }

const (
	errTruncated    formatError = "unexpected end of payload"
	errLenEncoding  formatError = "unknown length encoding"
	errStrEncoding  formatError = "unknown string encoding"
	errTooLong      formatError = "length larger than the payload"
	errLZFTruncated formatError = "LZF data ends inside an instruction"
	errLZFBackRef   formatError = "LZF back-reference before the start of the output"
	errLZFOverflow  formatError = "LZF data decompresses to more than its declared length"
	errLZFShort     formatError = "LZF data decompresses to less than its declared length"
	errLZFExpansion formatError = "LZF declared length exceeds what its data can hold"
)

package native

import (
	"fmt"
	"unsafe"
)

// Buffer is one result buffer of the library: JSON text of n bytes, then (for some results)
// binary parts at 16-aligned offsets. Views into it die with Free; copy what you keep.
type Buffer struct {
	p unsafe.Pointer
	n uintptr
}

// IsNil reports a NULL result (the end of a stream).
func (b Buffer) IsNil() bool { return b.p == nil }

// JSON is a view of the JSON text.
func (b Buffer) JSON() []byte {
	if b.p == nil {
		return nil
	}
	return unsafe.Slice((*byte)(b.p), b.n)
}

// checkPart refuses a part that does not start after the JSON text and its NUL.
func (b Buffer) checkPart(offset, length uint64) error {
	if b.p == nil || offset <= uint64(b.n) || offset%16 != 0 || offset+length < offset {
		return fmt.Errorf("inferencekey: the library returned a malformed binary part (offset %d, length %d)", offset, length)
	}
	return nil
}

// Bytes copies the binary part of length bytes at offset.
func (b Buffer) Bytes(offset, length uint64) ([]byte, error) {
	if err := b.checkPart(offset, length); err != nil {
		return nil, err
	}
	out := make([]byte, length)
	copy(out, unsafe.Slice((*byte)(unsafe.Add(b.p, offset)), length))
	return out, nil
}

// Float64s copies the f64le part of length bytes at offset. Every platform the module ships
// for is little-endian, so the part is read in place.
func (b Buffer) Float64s(offset, length uint64) ([]float64, error) {
	if err := b.checkPart(offset, length); err != nil {
		return nil, err
	}
	if length%8 != 0 {
		return nil, fmt.Errorf("inferencekey: a float64 part of %d bytes", length)
	}
	out := make([]float64, length/8)
	copy(out, unsafe.Slice((*float64)(unsafe.Add(b.p, offset)), length/8))
	return out, nil
}

// Free returns the buffer to the library, once; later calls do nothing.
func (b *Buffer) Free() {
	if b.p != nil {
		ikBufferFree(b.p)
		b.p = nil
	}
}

// ErrorInfo is an ik_error read out (and freed): every accessor's value, copied.
type ErrorInfo struct {
	Status     int32
	HTTPStatus int
	Code       string
	Message    string // redacted by the core
	RequestID  string
	Details    string // JSON object text, or ""
}

// takeError reads and frees an ik_error; with none, it describes the bare status.
func takeError(status int32, e uintptr) *ErrorInfo {
	if e == 0 {
		return &ErrorInfo{Status: status, Message: "native call failed"}
	}
	defer ikErrorFree(e)
	return &ErrorInfo{
		Status:     ikErrorStatus(e),
		HTTPStatus: int(ikErrorHTTP(e)),
		Code:       ikErrorCode(e),
		Message:    ikErrorMessage(e),
		RequestID:  ikErrorReqID(e),
		Details:    ikErrorDetails(e),
	}
}

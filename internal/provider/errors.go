package provider

import (
	"fmt"
	"strings"
	"time"
)

// Class says what the caller may do after a failed call.
type Class int

// Unknown is the zero value on purpose: an Error built without a class must
// never be taken as safe to resend.
const (
	// Unknown: the request may have reached Meta and been accepted (no
	// answer after it left, or a 5xx). The caller must not resend it
	// blindly: Meta's status webhook tells the outcome.
	Unknown Class = iota
	// Retryable: Meta did not take the message; the same send may be made
	// again, after RetryAfter when it is set.
	Retryable
	// Permanent: Meta rejected the message; resending will not help.
	Permanent
	// HoldChannel: Meta refused the channel as a whole, not this message
	// (190 access token, 131031 account locked, 368 and 131048
	// restrictions): none of the channel's messages can go until the
	// business fixes it, so they wait rather than fail.
	HoldChannel
)

// String names the class for errors and logs.
func (c Class) String() string {
	switch c {
	case Retryable:
		return "retryable"
	case Permanent:
		return "permanent"
	case HoldChannel:
		return "hold channel"
	default:
		return "unknown"
	}
}

// Error is a failed call to Meta: an error answer, or a transport failure
// (HTTPStatus and Code 0). It never holds the access token.
type Error struct {
	HTTPStatus int
	Code       int // Meta's error code; 0 when Meta gave none
	Subcode    int
	Title      string // Meta's message, for humans only
	Details    string // Meta's error_data.details, for humans only
	Class      Class
	// RetryAfter is how long to wait before a Retryable send; 0 means the
	// caller's own back-off.
	RetryAfter time.Duration

	cause error
}

// Error describes the failure with its code and class, for logs.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Code != 0 {
		fmt.Fprintf(&b, "meta error %d", e.Code)
		if e.Subcode != 0 {
			fmt.Fprintf(&b, "/%d", e.Subcode)
		}
	} else {
		b.WriteString("meta call failed")
	}
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d, %s)", e.HTTPStatus, e.Class)
	} else {
		fmt.Fprintf(&b, " (%s)", e.Class)
	}
	if e.Title != "" {
		b.WriteString(": " + e.Title)
	}
	if e.Details != "" {
		b.WriteString(": " + e.Details)
	}
	return b.String()
}

// Unwrap exposes the transport error behind the failure, if any, so
// callers can test for context.DeadlineExceeded.
func (e *Error) Unwrap() error { return e.cause }

// Codes of REFERENCE §2 and DESIGN §5. Meta's code decides, never its
// title; the HTTP status only tells a refusal (4xx) from a failure while
// Meta was processing the request (5xx), which may have taken it.
var (
	// channelCodes are the channel's, not the recipient's: every send
	// through the channel would get them.
	channelCodes = map[int]bool{
		190:    true, // access token expired or invalid
		131031: true, // business account locked
		368:    true, // temporarily blocked for policy violations
		131048: true, // spam rate limit: restricted for quality
	}
	// throughputCodes say "not now": Meta did not take the message.
	throughputCodes = map[int]bool{
		130429: true, // throughput limit of the number
		131056: true, // pair rate limit
		80007:  true, // WABA rate limit
		4:      true, // app call rate limit
	}
	// generalCodes carry no verdict of their own: the HTTP status says
	// whether Meta may have taken the message.
	generalCodes = map[int]bool{
		131000: true, // something went wrong
		1:      true, // unknown error
		2:      true, // service unavailable
	}
	permanentCodes = map[int]bool{
		100: true, 131008: true, 131009: true, 131026: true, 131047: true, 131049: true, 131050: true, 131051: true,
		132000: true, 132001: true, 132005: true, 132007: true, 132012: true, 132015: true, 132016: true,
		133010: true,
	}
)

// Classify maps an error answer to a Class. A code the tables know
// decides (channel-wide, throughput, permanent). Otherwise the status
// does: 5xx is Unknown, because Meta failed while processing a request it
// had received and may have accepted the message (DESIGN §5, ambiguous);
// 408 and 429 are Retryable; other 4xx, and the general codes outside
// 5xx, are refusals (permanent, retryable). A recipient's own refusal
// (131026, 131047, 131049, 131050) is permanent for that message and
// never holds the channel.
func Classify(httpStatus, code int) Class {
	switch {
	case channelCodes[code]:
		return HoldChannel
	case throughputCodes[code]:
		return Retryable
	case permanentCodes[code]:
		return Permanent
	case httpStatus >= 500 && httpStatus <= 599:
		return Unknown
	case generalCodes[code], httpStatus == 429, httpStatus == 408:
		return Retryable
	case httpStatus >= 400 && httpStatus <= 499:
		return Permanent
	default:
		return Unknown
	}
}

// retryAfter is the wait Meta's documentation implies for each rate-limit
// code; other retryable failures leave it to the caller's back-off.
func retryAfter(code int) time.Duration {
	switch code {
	case 130429:
		return time.Second
	case 131056:
		return 6 * time.Second
	case 80007, 4:
		return time.Minute
	}
	return 0
}

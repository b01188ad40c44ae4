// Package domain holds templategw's rules once, free of I/O: phone numbers,
// template parameters and rendering, the send command, the message state
// machine and the typed errors every dialect maps to its own status codes.
package domain

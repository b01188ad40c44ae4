package accept

import "sync"

// Slots is the set of idempotency keys this instance is handling, so a
// retry that arrives while the first request still runs is refused
// (KindInFlight) instead of racing it. The zero value is ready to use.
type Slots struct {
	mu sync.Mutex
	m  map[string]bool
}

// Enter takes key and reports whether it was free.
func (s *Slots) Enter(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[key] {
		return false
	}
	if s.m == nil {
		s.m = map[string]bool{}
	}
	s.m[key] = true
	return true
}

// Leave frees key.
func (s *Slots) Leave(key string) {
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

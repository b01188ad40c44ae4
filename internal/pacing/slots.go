package pacing

// slots bounds how many bulk acquisitions one instance keeps waiting, and
// splits the bound evenly among the tenants waiting: each waiting
// acquisition holds one of the instance's request slots, and one tenant's
// broadcast must not take them all. A tenant over its part is told to try
// later; while a tenant that held more than its new part drains, the total
// may pass the bound for up to one wait.
type slots struct {
	max  int // 0: no bound
	held map[string]int
}

// free says whether tenant may keep one more acquisition waiting.
func (s *slots) free(tenant string) bool {
	if s.max <= 0 {
		return true
	}
	n := len(s.held)
	if s.held[tenant] == 0 {
		n++
	}
	return s.held[tenant] < max(1, s.max/n)
}

func (s *slots) take(tenant string) {
	if s.held == nil {
		s.held = map[string]int{}
	}
	s.held[tenant]++
}

func (s *slots) give(tenant string) {
	if s.held[tenant] <= 1 {
		delete(s.held, tenant)
		return
	}
	s.held[tenant]--
}

package stock

import "sync"

// Store is an in-memory stock counter.
type Store struct {
	mu    sync.Mutex
	items map[string]int
}

func New() *Store {
	return &Store{items: map[string]int{"widget": 3, "gadget": 7}}
}

func (s *Store) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.items {
		n += v
	}
	return n
}

package runner

import (
	"errors"
	"sync"

	"github.com/jplan/jplan/history"
)

// memChunk is the number of ops per MemRecorder chunk. Chunks are never
// copied when the history grows, so memory is the ops themselves plus at
// most one partly filled chunk, instead of a doubling slice's up-to-2x.
const memChunk = 4096

// MemRecorder keeps the history in memory. Append is meant for the
// interpreter goroutine; Len and Ops may be called concurrently with it.
type MemRecorder struct {
	mu     sync.Mutex
	chunks [][]history.Op
	n      int
}

// NewMemRecorder returns an empty MemRecorder.
func NewMemRecorder() *MemRecorder { return &MemRecorder{} }

// Append adds op. It never fails.
func (m *MemRecorder) Append(op history.Op) error {
	m.mu.Lock()
	if len(m.chunks) == 0 || len(m.chunks[len(m.chunks)-1]) == memChunk {
		m.chunks = append(m.chunks, make([]history.Op, 0, memChunk))
	}
	c := &m.chunks[len(m.chunks)-1]
	*c = append(*c, op)
	m.n++
	m.mu.Unlock()
	return nil
}

// Len is the number of ops recorded.
func (m *MemRecorder) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

// Ops returns a copy of the history.
func (m *MemRecorder) Ops() []history.Op {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]history.Op, 0, m.n)
	for _, c := range m.chunks {
		out = append(out, c...)
	}
	return out
}

// Take returns the history and empties the recorder. Unlike Ops it lets
// go of the chunks, so what comes after recording (checking a big
// history) has one copy of it in memory, not two.
func (m *MemRecorder) Take() []history.Op {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]history.Op, 0, m.n)
	for i, c := range m.chunks {
		out = append(out, c...)
		m.chunks[i] = nil
	}
	m.chunks, m.n = nil, 0
	return out
}

type tee []Recorder

// Tee records to every recorder in turn (e.g. a streaming JSONL writer and a
// MemRecorder for the checkers). All are tried; errors are joined.
func Tee(recs ...Recorder) Recorder { return tee(recs) }

func (t tee) Append(op history.Op) error {
	var errs []error
	for _, r := range t {
		if err := r.Append(op); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

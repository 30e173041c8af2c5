package history

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// FlushInterval is how often a Writer pushes buffered ops to its underlying
// writer. A process killed without warning loses at most this much history.
const FlushInterval = time.Second

// flushThreshold is the buffer size at which Append writes synchronously
// rather than waiting for the ticker, bounding memory when ops arrive
// faster than a second's worth fits comfortably in RAM.
const flushThreshold = 1 << 20

// ErrClosed is returned by Append and Flush after Close.
var ErrClosed = errors.New("history: writer closed")

// Writer streams ops as JSON Lines. It is safe for concurrent use: many
// workers may Append at once, and lines never interleave. Ops are written in
// the order Append is called; the Writer does not assign or check Index.
//
// Writes reach the underlying io.Writer at least every FlushInterval, when
// the buffer passes 1 MiB, on Flush and on Close. The Writer does not fsync:
// it protects against the jplan process dying, not the machine.
type Writer struct {
	mu     sync.Mutex // guards buf, spare, err, closed
	buf    []byte
	spare  []byte
	err    error
	closed bool

	// wmu serialises writes to w. It is always taken while holding mu and
	// then mu is released, so writes happen in buffer order without
	// blocking appenders during the (possibly slow) I/O.
	wmu sync.Mutex
	w   io.Writer

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// NewWriter returns a Writer appending to w and starts its background
// flusher. Call Close to stop it and flush the tail.
func NewWriter(w io.Writer) *Writer {
	hw := &Writer{
		w:    w,
		buf:  make([]byte, 0, 64<<10),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go hw.flushLoop()
	return hw
}

func (w *Writer) flushLoop() {
	defer close(w.done)
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			// Errors are kept in w.err and reported by the next Append,
			// Flush or Close; the loop has nobody to return them to.
			_ = w.Flush()
		case <-w.stop:
			return
		}
	}
}

// Append encodes op and adds it to the buffer. It returns an error if the op
// cannot be encoded (the op is then not written) or if an earlier write to
// the underlying writer failed.
//
// The op is encoded straight into the buffer, under the lock: encoding
// takes a fraction of a microsecond, and a run has one appender (the
// interpreter), for which a separate buffer and a copy cost more than the
// lock is ever held.
func (w *Writer) Append(op Op) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return err
	}
	n := len(w.buf)
	line, err := AppendJSON(w.buf, &op)
	if err != nil {
		w.buf = line[:n]
		w.mu.Unlock()
		return fmt.Errorf("history: encoding op: %w", err)
	}
	w.buf = append(line, '\n')
	if len(w.buf) < flushThreshold {
		w.mu.Unlock()
		return nil
	}
	return w.flushLocked()
}

// Flush writes everything appended so far to the underlying writer.
func (w *Writer) Flush() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	return w.flushLocked()
}

// flushLocked is called with w.mu held and releases it. It swaps the buffer
// out so appenders can continue while the old one is written.
func (w *Writer) flushLocked() error {
	if w.err != nil || len(w.buf) == 0 {
		err := w.err
		w.mu.Unlock()
		return err
	}
	b := w.buf
	w.buf = w.spare[:0]
	w.spare = nil
	w.wmu.Lock()
	w.mu.Unlock()
	_, err := w.w.Write(b)
	w.wmu.Unlock()

	w.mu.Lock()
	if err != nil && w.err == nil {
		w.err = fmt.Errorf("history: writing: %w", err)
	}
	if w.spare == nil && cap(b) <= 4*flushThreshold {
		w.spare = b[:0]
	}
	err = w.err
	w.mu.Unlock()
	return err
}

// Close stops the background flusher and writes any buffered ops. It does
// not close the underlying writer, which the caller owns. Close is
// idempotent; later calls return the first call's result.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		close(w.stop)
		<-w.done
		w.mu.Lock()
		w.closeErr = w.flushLocked()
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
	})
	return w.closeErr
}

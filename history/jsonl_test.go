package history

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func sampleOps() []Op {
	return []Op{
		{Index: 0, Time: 10, Type: Invoke, Process: 0, F: "read"},
		{Index: 1, Time: 11, Type: Invoke, Process: 1, F: "write", Value: int64(3)},
		{Index: 2, Time: 12, Type: OK, Process: 0, F: "read", Value: int64(3), Node: "n1"},
		{Index: 3, Time: 13, Type: Info, Process: 1, F: "write", Value: int64(3), Error: "timeout\n\"quoted\""},
		{Index: 4, Time: 14, Type: Invoke, Process: NemesisProcess, F: "start-partition", Value: map[string]any{"n1": []any{"n2", "n3"}}},
		{Index: 5, Time: 15, Type: Info, Process: NemesisProcess, F: "start-partition", Value: "cut"},
		{Index: 6, Time: 16, Type: Invoke, Process: 2, F: "cas", Value: []any{int64(1), int64(2)}},
		{Index: 7, Time: 17, Type: Fail, Process: 2, F: "cas", Value: []any{int64(1), int64(2)}},
		{Index: 8, Time: 18, Type: Invoke, Process: 3, F: "write", Value: []any{"k", 2.5, true, false, nil, "é\u2028\x01"}},
	}
}

func TestJSONLRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, op := range sampleOps() {
		if err := w.Append(op); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSONL(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sampleOps()) {
		t.Fatalf("round trip mismatch:\n got %#v\nwant %#v", got, sampleOps())
	}
}

func TestJSONLLineFormat(t *testing.T) {
	op := Op{Index: 0, Time: 123, Type: Invoke, Process: 0, F: "read"}
	b, err := AppendJSON(nil, &op)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"index":0,"time":123,"type":"invoke","process":0,"f":"read","value":null}`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
	op = Op{Index: 1, Type: Info, Process: NemesisProcess, F: "kill", Value: 2.0, Error: "e", Node: "n2"}
	b, _ = AppendJSON(nil, &op)
	want = `{"index":1,"time":0,"type":"info","process":"nemesis","f":"kill","value":2.0,"error":"e","node":"n2"}`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
}

func TestJSONLUnencodableValue(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	defer w.Close()
	if err := w.Append(Op{Type: OK, F: "read", Value: math.NaN()}); err == nil {
		t.Fatal("NaN value encoded without error")
	}
	// The writer stays usable for the next op.
	if err := w.Append(Op{Type: OK, F: "read", Value: int64(1)}); err != nil {
		t.Fatal(err)
	}
}

func TestReadJSONLTruncatedTail(t *testing.T) {
	in := `{"index":0,"time":1,"type":"invoke","process":0,"f":"read","value":null}
{"index":1,"time":2,"type":"ok","process":0,"f":"read","value":4}
{"index":2,"time":3,"type":"inv`
	ops, err := ReadJSONL(strings.NewReader(in))
	if err != nil {
		t.Fatalf("truncated tail should be tolerated: %v", err)
	}
	if len(ops) != 2 || ops[1].Value != int64(4) {
		t.Fatalf("got %+v", ops)
	}
}

func TestReadJSONLMalformedLineNumber(t *testing.T) {
	in := `{"index":0,"time":1,"type":"invoke","process":0,"f":"read","value":null}

{"index":1,"time":2,"type":"ok","process":0,"f":"read","value":[1,}
{"index":2,"time":3,"type":"invoke","process":0,"f":"read","value":null}
`
	_, err := ReadJSONL(strings.NewReader(in))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("want error naming line 3, got %v", err)
	}
	// A malformed last line that does end in a newline is real corruption,
	// not truncation.
	_, err = ReadJSONL(strings.NewReader(`{"type":"bogus"}` + "\n"))
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("want error on line 1, got %v", err)
	}
}

func TestReadJSONLValues(t *testing.T) {
	in := `{"type":"ok","process":"nemesis","f":"x","value":{"a":[1,-2,3.5,1e3,"\u00e9\ud83d\ude00",null,true],"b":{}},"extra":[1]}
{"type":"ok","process":7,"f":"x","value":12345678901234567890}
`
	ops, err := ReadJSONL(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": []any{int64(1), int64(-2), 3.5, 1000.0, "é😀", nil, true}, "b": map[string]any{}}
	if !reflect.DeepEqual(ops[0].Value, want) {
		t.Fatalf("got %#v", ops[0].Value)
	}
	if ops[0].Process != NemesisProcess || ops[0].Index != 0 || ops[1].Index != 1 {
		t.Fatalf("process/index wrong: %+v", ops)
	}
	if _, ok := ops[1].Value.(float64); !ok {
		t.Fatalf("integer beyond int64 should decode as float64, got %T", ops[1].Value)
	}
}

func TestReadJSONLDepthLimit(t *testing.T) {
	deep := `{"type":"ok","value":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "}\n"
	_, err := ReadJSONL(strings.NewReader(deep))
	if err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Fatalf("want depth error, got %v", err)
	}
}

func TestReadJSONLLongLine(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	in := fmt.Sprintf(`{"type":"ok","process":0,"f":"read","value":%q}`+"\n", big)
	ops, err := ReadJSONL(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if ops[0].Value != big {
		t.Fatal("long value mangled")
	}
}

func TestWriterConcurrentAppend(t *testing.T) {
	var buf syncBuffer
	w := NewWriter(&buf)
	const goroutines, per = 16, 2000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				op := Op{Index: int64(g*per + i), Type: OK, Process: g, F: "write", Value: strings.Repeat("v", i%50)}
				if err := w.Append(op); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ops, err := ReadJSONL(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != goroutines*per {
		t.Fatalf("got %d ops, want %d", len(ops), goroutines*per)
	}
	seen := make(map[int64]bool)
	lastPerProcess := map[int]int64{}
	for _, op := range ops {
		if seen[op.Index] {
			t.Fatalf("duplicate op %d", op.Index)
		}
		seen[op.Index] = true
		// Each goroutine's own appends must keep their order.
		if last, ok := lastPerProcess[op.Process]; ok && op.Index < last {
			t.Fatalf("process %d ops out of order", op.Process)
		}
		lastPerProcess[op.Process] = op.Index
	}
}

func TestWriterFlushesPeriodically(t *testing.T) {
	var buf syncBuffer
	w := NewWriter(&buf)
	defer w.Close()
	if err := w.Append(Op{Type: Invoke, F: "read"}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Fatal("small append should be buffered, not written immediately")
	}
	deadline := time.Now().Add(3 * FlushInterval)
	for buf.Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("buffered op not flushed within the flush interval")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterReportsWriteError(t *testing.T) {
	w := NewWriter(failWriter{})
	_ = w.Append(Op{Type: Invoke, F: "read"})
	if err := w.Flush(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("want disk full, got %v", err)
	}
	if err := w.Append(Op{Type: Invoke, F: "read"}); err == nil {
		t.Fatal("append after a failed write should report the error")
	}
	if err := w.Close(); err == nil {
		t.Fatal("close should report the write error")
	}
	if err := w.Append(Op{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("want ErrClosed, got %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe to read while the flusher writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.b.Bytes()...)
}

func BenchmarkWriterAppend(b *testing.B) {
	w := NewWriter(io.Discard)
	defer w.Close()
	op := Op{Index: 1, Time: 123456789, Type: OK, Process: 3, F: "cas", Value: []any{int64(1), int64(2)}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := w.Append(op); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchHistory builds a register-like history of n ops for decoding
// benchmarks.
func benchHistory(n int) []Op {
	ops := make([]Op, n)
	for i := range ops {
		op := Op{Index: int64(i), Time: int64(i) * 1000, Process: i / 2 % 10}
		switch i % 6 {
		case 0:
			op.Type, op.F = Invoke, "read"
		case 1:
			op.Type, op.F, op.Value = OK, "read", int64(i%5)
		case 2:
			op.Type, op.F, op.Value = Invoke, "write", int64(i%5)
		case 3:
			op.Type, op.F, op.Value = OK, "write", int64(i%5)
		case 4:
			op.Type, op.F, op.Value = Invoke, "cas", []any{int64(1), int64(2)}
		case 5:
			op.Type, op.F, op.Value = Fail, "cas", []any{int64(1), int64(2)}
		}
		ops[i] = op
	}
	return ops
}

func BenchmarkReadJSONL(b *testing.B) {
	var buf bytes.Buffer
	for _, op := range benchHistory(100000) {
		line, _ := AppendJSON(nil, &op)
		buf.Write(append(line, '\n'))
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		ops, err := ReadJSONL(bytes.NewReader(data))
		if err != nil || len(ops) != 100000 {
			b.Fatal(err, len(ops))
		}
	}
	b.ReportMetric(float64(100000*b.N)/b.Elapsed().Seconds(), "ops/s")
}

// TestWriterSkipsUnencodable: an op that cannot be encoded fails its
// Append and leaves nothing of itself in the stream, even when encoding
// fails after part of the line was written; the ops around it are intact.
func TestWriterSkipsUnencodable(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	good := sampleOps()
	if err := w.Append(good[0]); err != nil {
		t.Fatal(err)
	}
	bad := Op{Index: 99, Type: Invoke, Process: 0, F: "write", Value: []any{int64(1), math.Inf(1)}}
	if err := w.Append(bad); err == nil {
		t.Fatal("appending an infinite value did not fail")
	}
	if err := w.Append(good[1]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSONL(&buf)
	if err != nil {
		t.Fatalf("stream is not valid JSONL: %v\n%s", err, buf.String())
	}
	if !reflect.DeepEqual(got, good[:2]) {
		t.Fatalf("got %v, want %v", got, good[:2])
	}
}

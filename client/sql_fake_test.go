package client

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jplan/jplan/eval"
)

// fakePG is a scripted PostgreSQL server speaking just enough of the wire
// protocol for the sql client: startup without a password, simple queries
// (BEGIN, COMMIT, ROLLBACK) and the extended protocol pgx uses for
// statements with parameters. What it does with a statement depends on
// words in the statement's text (see execute), and with COMMIT on
// commitMode, so a test can make it fail, drop the connection or stall at
// any point of a transaction, which a real server does not do on demand.
type fakePG struct {
	ln net.Listener
	mu sync.Mutex
	// commitMode: "" commits; "40001" answers a serialization failure;
	// "fatal" answers FATAL 57P01 and closes; "drop" closes without an
	// answer; "hang" never answers.
	commitMode string
	// lists holds the list-append table as comma-separated text per key.
	lists map[int64]string
	// log is every statement the server executed, with its parameters.
	log   []string
	conns int
	wg    sync.WaitGroup
	open  []net.Conn
}

func newFakePG(t *testing.T) *fakePG {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakePG{ln: ln, lists: map[int64]string{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.open {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *fakePG) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *fakePG) setCommit(mode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commitMode = mode
}

func (s *fakePG) statements() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

func (s *fakePG) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

func (s *fakePG) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns++
		s.open = append(s.open, c)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.serve(c)
		}()
	}
}

// errDrop ends a connection without an answer.
var errDrop = errors.New("drop the connection")

func (s *fakePG) serve(c net.Conn) {
	be := pgproto3.NewBackend(c, c)
	if _, err := be.ReceiveStartupMessage(); err != nil {
		return
	}
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 2}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if be.Flush() != nil {
		return
	}
	prepared := map[string]string{}
	var (
		query   string // the bound statement
		args    []int64
		formats []int16
		skip    bool // after an error, until Sync
		status  byte = 'I'
	)
	for {
		msg, err := be.Receive()
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *pgproto3.Query:
			q := strings.ToLower(strings.TrimSpace(m.String))
			s.record(q, nil)
			switch {
			case strings.HasPrefix(q, "begin"):
				status = 'T'
				be.Send(&pgproto3.CommandComplete{CommandTag: []byte("BEGIN")})
			case q == "commit":
				status = 'I'
				s.mu.Lock()
				mode := s.commitMode
				s.mu.Unlock()
				switch mode {
				case "drop":
					return
				case "hang":
					_, _ = io.Copy(io.Discard, c) // until the client gives up
					return
				case "fatal":
					be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"})
					_ = be.Flush()
					return
				case "40001":
					be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "40001", Message: "could not serialize access due to read/write dependencies among transactions"})
				default:
					be.Send(&pgproto3.CommandComplete{CommandTag: []byte("COMMIT")})
				}
			case q == "rollback":
				status = 'I'
				be.Send(&pgproto3.CommandComplete{CommandTag: []byte("ROLLBACK")})
			default:
				be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "42601", Message: "fake server: unexpected simple query " + q})
			}
			be.Send(&pgproto3.ReadyForQuery{TxStatus: status})
		case *pgproto3.Parse:
			if !skip {
				prepared[m.Name] = m.Query
				be.Send(&pgproto3.ParseComplete{})
			}
		case *pgproto3.Describe:
			if !skip {
				q := prepared[m.Name]
				if m.ObjectType == 'P' {
					q = query
				}
				if m.ObjectType == 'S' {
					oids := make([]uint32, eval.SQLParams(q))
					for i := range oids {
						oids[i] = 20 // int8: the tests' parameters are integers
					}
					be.Send(&pgproto3.ParameterDescription{ParameterOIDs: oids})
				}
				if cols := columns(q); cols != nil {
					be.Send(&pgproto3.RowDescription{Fields: cols})
				} else {
					be.Send(&pgproto3.NoData{})
				}
			}
		case *pgproto3.Bind:
			if !skip {
				query = prepared[m.PreparedStatement]
				args, formats = nil, m.ResultFormatCodes
				for i, p := range m.Parameters {
					args = append(args, decodeInt(p, formatOf(m.ParameterFormatCodes, i)))
				}
				be.Send(&pgproto3.BindComplete{})
			}
		case *pgproto3.Execute:
			if !skip {
				s.record(query, args)
				if err := s.execute(be, query, args, formats); err != nil {
					if err == errDrop {
						return
					}
					skip = true
					status = 'E'
				}
			}
		case *pgproto3.Close:
			if !skip {
				delete(prepared, m.Name)
				be.Send(&pgproto3.CloseComplete{})
			}
		case *pgproto3.Sync:
			skip = false
			be.Send(&pgproto3.ReadyForQuery{TxStatus: status})
		case *pgproto3.Terminate:
			return
		}
		if be.Flush() != nil {
			return
		}
	}
}

func (s *fakePG) record(q string, args []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if args != nil {
		q += " " + fmt.Sprint(args)
	}
	s.log = append(s.log, q)
}

// columns is the row description of the statements that return rows.
func columns(q string) []pgproto3.FieldDescription {
	switch {
	case strings.HasPrefix(q, "SELECT vals"):
		return []pgproto3.FieldDescription{{Name: []byte("vals"), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1}}
	case strings.HasPrefix(q, "SELECT id, balance"):
		return []pgproto3.FieldDescription{
			{Name: []byte("id"), DataTypeOID: 20, DataTypeSize: 8, TypeModifier: -1},
			{Name: []byte("balance"), DataTypeOID: 20, DataTypeSize: 8, TypeModifier: -1},
		}
	}
	return nil
}

// execute runs one statement: words in its text choose what happens.
func (s *fakePG) execute(be *pgproto3.Backend, q string, args []int64, formats []int16) error {
	fail := func(code, msg string) error {
		be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: code, Message: msg})
		return errors.New(code)
	}
	switch {
	case strings.Contains(q, "DROP_CONNECTION"):
		return errDrop
	case strings.Contains(q, "STALL"):
		time.Sleep(time.Second)
		return errDrop
	case strings.Contains(q, "balance - $1"):
		if args[0] > 10 {
			return fail("23514", `new row for relation "accounts" violates check constraint "accounts_balance_check"`)
		}
	case strings.Contains(q, "-- CONFLICT"):
		return fail("40001", "could not serialize access due to concurrent update")
	case strings.HasPrefix(q, "SELECT vals"):
		s.mu.Lock()
		v, ok := s.lists[args[0]]
		s.mu.Unlock()
		if ok {
			be.Send(&pgproto3.DataRow{Values: [][]byte{[]byte(v)}})
		}
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})
		return nil
	case strings.HasPrefix(q, "SELECT id, balance"):
		for id := int64(0); id < 3; id++ {
			be.Send(&pgproto3.DataRow{Values: [][]byte{encodeInt(id, formatOf(formats, 0)), encodeInt(10+id, formatOf(formats, 1))}})
		}
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 3")})
		return nil
	case strings.HasPrefix(q, "INSERT INTO lists"):
		s.mu.Lock()
		if old := s.lists[args[0]]; old != "" {
			s.lists[args[0]] = old + "," + strconv.FormatInt(args[1], 10)
		} else {
			s.lists[args[0]] = strconv.FormatInt(args[1], 10)
		}
		s.mu.Unlock()
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte("INSERT 0 1")})
		return nil
	}
	be.Send(&pgproto3.CommandComplete{CommandTag: []byte("UPDATE 1")})
	return nil
}

func formatOf(codes []int16, i int) int16 {
	switch {
	case len(codes) == 0:
		return 0
	case len(codes) == 1:
		return codes[0]
	case i < len(codes):
		return codes[i]
	}
	return 0
}

func decodeInt(p []byte, format int16) int64 {
	if format == 1 && len(p) == 8 {
		return int64(binary.BigEndian.Uint64(p))
	}
	n, _ := strconv.ParseInt(string(p), 10, 64)
	return n
}

func encodeInt(n int64, format int16) []byte {
	if format == 1 {
		return binary.BigEndian.AppendUint64(nil, uint64(n))
	}
	return []byte(strconv.FormatInt(n, 10))
}

package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
)

// QueueSize is how many records Write can queue ahead of the disk before it
// blocks.
const QueueSize = 1024

// ErrDamaged is the error Open returns (wrapped, with the details and what
// to do) when the end of an existing log is not a complete record.
var ErrDamaged = errors.New("the audit log is damaged")

// errBroken fails every record after a failed write left a partial line that
// could not be removed.
var errBroken = errors.New("an earlier write left a partial line that could not be removed; records are no longer written")

// Writer appends records to an audit log. Write hands a record to one
// background goroutine, which numbers it, chains it to the previous line and
// writes it; the caller does not wait for the disk. A Writer is safe for
// concurrent use.
type Writer struct {
	path  string
	log   *zap.Logger
	f     *os.File
	now   func() time.Time
	queue chan Record
	done  chan struct{} // closed when the goroutine has written everything

	// mu is held for reading while a record is sent on queue and for
	// writing while queue is closed, so that no send meets a closed
	// channel.
	mu         sync.RWMutex
	closed     bool
	warnClosed sync.Once

	closeOnce sync.Once
	closeErr  error

	// state guards what the goroutine shares with Head, Err and Close.
	state    sync.Mutex
	seq      uint64 // seq of the last record in the file
	head     string // hex hash of the last line in the file
	written  uint64 // records written since Open
	failures uint64 // records not written, and failed syncs
	firstErr error

	// Only the goroutine uses these.
	size   int64 // bytes in the file
	dirty  bool  // written since the last fsync
	broken bool  // see errBroken
	buf    bytes.Buffer
	enc    *json.Encoder
}

// Open opens the audit log at path for appending, creating it with mode
// 0600 if needed, and starts its writer. A log that already has records is
// continued: the next record's seq follows the last one's and its prev is
// the last line's hash. Open reads only the end of the file, not the whole
// log. When the file does not end in a complete record (a write torn by a
// crash, or an edit), Open refuses it with an error wrapping ErrDamaged: the
// operator checks it with `airlock-mcp audit verify` and moves it aside. Open
// also refuses a file another process is writing.
func Open(path string, log *zap.Logger) (*Writer, error) {
	if log == nil {
		log = zap.NewNop()
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", path, unwrapPath(err))
	}
	w, err := newWriter(f, path, log)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	go w.run()
	return w, nil
}

// newWriter locks f and finds where its chain ends.
func newWriter(f *os.File, path string, log *zap.Logger) (*Writer, error) {
	if err := lockFile(f); err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", path, unwrapPath(err))
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("audit: open %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		log.Warn("audit log is accessible to other users; chmod 600 it",
			zap.String("path", path), zap.String("mode", perm.String()))
	}
	seq, head, err := chainEnd(f, fi.Size())
	if errors.Is(err, ErrDamaged) {
		return nil, fmt.Errorf("audit: open %s: %w; run `airlock-mcp audit verify %s`, then move the file aside to start a new log",
			path, err, path)
	}
	if err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", path, unwrapPath(err))
	}
	w := &Writer{
		path:  path,
		log:   log,
		f:     f,
		now:   time.Now,
		queue: make(chan Record, QueueSize),
		done:  make(chan struct{}),
		seq:   seq,
		head:  head,
		size:  fi.Size(),
	}
	w.enc = newEncoder(&w.buf)
	log.Info("audit log opened", zap.String("path", path), zap.Uint64("next_seq", seq+1), zap.String("head", "sha256:"+head))
	return w, nil
}

// chainEnd returns the seq and hash of the last record of the log f of size
// bytes: 0 and ZeroHash for an empty file. An error about the content wraps
// ErrDamaged.
func chainEnd(f *os.File, size int64) (uint64, string, error) {
	line, err := lastLine(f, size)
	switch {
	case errors.Is(err, errTorn):
		return 0, "", fmt.Errorf("%w: the file %w: its last record is torn (a crash during a write?)", ErrDamaged, err)
	case errors.Is(err, errLastLineTooLong):
		return 0, "", fmt.Errorf("%w: %w", ErrDamaged, err)
	case err != nil:
		return 0, "", err
	case line == nil:
		return 0, ZeroHash, nil
	}
	r, err := decodeLine(line)
	if err == nil && r.Seq == 0 {
		err = errors.New("seq 0")
	}
	if err != nil {
		return 0, "", fmt.Errorf("%w: its last line is not a valid record (%w)", ErrDamaged, err)
	}
	return r.Seq, SHA256Hex(line), nil
}

// Write queues r to be appended to the log and returns without waiting for
// the disk. The Writer sets r's Seq and Prev, fills a zero Time with the
// current time, keeps at most MaxHostsDenied hosts and cuts strings longer
// than MaxFieldBytes; Write copies r, so the caller may reuse it.
//
// Records are never dropped: when QueueSize records are already waiting,
// Write blocks until there is room, so a disk slower than the calls slows
// the calls down. A write error is logged and counted (see Err), not
// returned. Write after Close writes nothing and logs a warning, once.
func (w *Writer) Write(r Record) {
	r = r.clone()
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.warnClosed.Do(func() {
			w.log.Warn("audit: Write after Close: record not written", zap.String("path", w.path))
		})
		return
	}
	w.queue <- r
}

// Head returns the seq and the hex hash of the last record written to the
// file: the head of the chain. Before any record, they are those of the
// log's last record when it was opened (0 and ZeroHash for a new log).
func (w *Writer) Head() (seq uint64, hash string) {
	w.state.Lock()
	defer w.state.Unlock()
	return w.seq, w.head
}

// Err returns the first error writing or syncing the log, or nil.
func (w *Writer) Err() error {
	w.state.Lock()
	defer w.state.Unlock()
	return w.firstErr
}

// Close writes every record already queued, fsyncs and closes the file, and
// logs "audit log closed" with the number of records written and the head,
// which an operator compares with `airlock-mcp audit verify` to detect a
// truncated log. It returns the errors of the run (as Err) and of closing.
// Close is idempotent and safe to call concurrently with Write.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		close(w.queue)
		w.mu.Unlock()
		<-w.done

		var errs []error
		if err := w.f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("audit: sync %s: %w", w.path, unwrapPath(err)))
		}
		if err := w.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("audit: close %s: %w", w.path, unwrapPath(err)))
		}
		w.state.Lock()
		seq, head, written, failures, first := w.seq, w.head, w.written, w.failures, w.firstErr
		w.state.Unlock()
		w.closeErr = errors.Join(append([]error{first}, errs...)...)
		w.log.Info("audit log closed", zap.String("path", w.path), zap.Uint64("records", written),
			zap.Uint64("seq", seq), zap.String("head", "sha256:"+head), zap.Uint64("write_errors", failures))
	})
	return w.closeErr
}

// run is the goroutine that writes the records. It fsyncs whenever the
// queue runs empty, so that a crash of the machine loses at most the last
// burst of records without an fsync per record.
func (w *Writer) run() {
	defer close(w.done)
	for r := range w.queue {
		w.append(r)
		if w.dirty && len(w.queue) == 0 {
			w.dirty = false
			if err := w.f.Sync(); err != nil {
				w.fail(0, fmt.Errorf("audit: sync %s: %w", w.path, unwrapPath(err)))
			}
		}
	}
}

// append chains r to the log and writes its line with one write.
func (w *Writer) append(r Record) {
	seq := w.seq + 1 // only this goroutine changes w.seq and w.head
	if w.broken {
		w.fail(seq, fmt.Errorf("audit: write %s: %w", w.path, errBroken))
		return
	}
	r.Seq, r.Prev = seq, w.head
	if r.OutputSHA256 == "" && r.HashOutput != nil {
		r.OutputSHA256 = r.HashOutput()
	}
	r.normalize(w.now)
	w.buf.Reset()
	if err := w.enc.Encode(&r); err != nil { // Encode ends the line with "\n"
		w.fail(seq, fmt.Errorf("audit: encode record %d: %w", seq, err))
		return
	}
	line := w.buf.Bytes()
	if n, err := w.f.Write(line); err != nil {
		err = fmt.Errorf("audit: write %s: %w", w.path, unwrapPath(err))
		if n > 0 {
			// Remove the partial line, or the next record would continue it.
			if terr := w.f.Truncate(w.size); terr != nil {
				w.broken = true
				err = fmt.Errorf("%w; removing the partial line: %w", err, unwrapPath(terr))
			}
		}
		w.fail(seq, err)
		return
	}
	w.size += int64(len(line))
	w.dirty = true
	sum := sha256.Sum256(line[:len(line)-1])
	w.state.Lock()
	w.seq, w.head = seq, hex.EncodeToString(sum[:])
	w.written++
	w.state.Unlock()
}

// fail counts and logs an error writing the record seq (0: a sync). The log
// line carries the seq, never the record.
func (w *Writer) fail(seq uint64, err error) {
	w.state.Lock()
	w.failures++
	failures := w.failures
	if w.firstErr == nil {
		w.firstErr = err
	}
	w.state.Unlock()
	fields := []zap.Field{zap.String("path", w.path), zap.Uint64("write_errors", failures), zap.Error(err)}
	if seq != 0 {
		fields = append(fields, zap.Uint64("seq", seq))
	}
	w.log.Error("audit log write failed", fields...)
}

// unwrapPath drops the *fs.PathError around err: the messages here name the
// path already.
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

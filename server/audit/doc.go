// Package audit writes and verifies airlock-mcp's tamper-evident audit log:
// one JSON line per tool call, each line carrying the SHA-256 of the line
// before it, so the lines form a hash chain.
//
// # Format
//
// The log is a file of JSON lines (JSON Lines), one [Record] per line, each
// object's fields in the order of the Record struct. A record's hash is the
// SHA-256 of its exact line bytes as written, without the trailing newline.
// Every record stores in its prev field the hex hash of the line before it;
// the first record of a file stores 64 zeros ([ZeroHash]). Records are
// numbered by seq from 1, with no gaps; a writer appending to an existing
// file continues its seq and its chain. The hash of the last line is the
// head of the log.
//
// [Writer] appends records without adding latency to tool calls; [Verify]
// checks a whole file line by line; the command `airlock-mcp audit verify
// FILE` runs Verify for an operator.
//
// # What the chain shows, and what it does not
//
// The chain has no key. Verify shows that a line was edited, that a record
// was deleted, inserted or moved, that the first records were removed, and
// that the last line is torn. It cannot show on its own that records were
// cut from the end: a log truncated after any line is a valid, shorter log.
// Truncation of the tail shows only against a head recorded elsewhere: the
// Writer logs the head when it opens and closes the file ("audit log
// opened", "audit log closed"), and an operator compares that head with the
// one Verify reports. And someone who can rewrite the whole file can rebuild
// a valid chain from any content; keeping the log, or its heads, somewhere
// the server's user cannot write (a log shipper, an append-only store) is
// what protects against that.
package audit

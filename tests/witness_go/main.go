// A second, independent check of parley's witness, built only from Go's standard library and
// golang.org/x/mod (Debian's golang-golang-x-mod-dev), offline in GOPATH mode.
//
// Usage: witness_check LOG_VKEY WITNESS_VKEY OLD_SIZE OLD_ROOT_B64 PROOF_FILE NOTE_FILE
//
// It opens the cosigned checkpoint note with x/mod's sumdb/note (the log's Ed25519 key, and a
// tlog-cosignature v1 verifier written here from the spec text), requires both signatures,
// and, when OLD_SIZE > 0, checks the consistency proof (one base64 hash a line) from the old
// tree with x/mod's sumdb/tlog.CheckTree. Prints "ok <size> <cosignature timestamp>".
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type cosigVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
	ts   *uint64
}

func (v cosigVerifier) Name() string    { return v.name }
func (v cosigVerifier) KeyHash() uint32 { return v.hash }
func (v cosigVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	ts := binary.BigEndian.Uint64(sig[:8])
	if ts > 1<<63-1 {
		return false
	}
	signed := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", ts)), msg...)
	if !ed25519.Verify(v.key, signed, sig[8:]) {
		return false
	}
	*v.ts = ts
	return true
}

func newCosigVerifier(vkey string, ts *uint64) (cosigVerifier, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return cosigVerifier{}, fmt.Errorf("malformed witness vkey")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 0x04 {
		return cosigVerifier{}, fmt.Errorf("witness vkey is not an Ed25519 cosignature key")
	}
	h := sha256.Sum256(append([]byte(parts[0]+"\n"), raw...))
	hash := binary.BigEndian.Uint32(h[:4])
	if fmt.Sprintf("%08x", hash) != parts[1] {
		return cosigVerifier{}, fmt.Errorf("witness vkey id does not match its key")
	}
	return cosigVerifier{parts[0], hash, ed25519.PublicKey(raw[1:]), ts}, nil
}

func hashOf(b64 string) (tlog.Hash, error) {
	var h tlog.Hash
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != tlog.HashSize {
		return h, fmt.Errorf("bad hash %q", b64)
	}
	copy(h[:], raw)
	return h, nil
}

func run(args []string) error {
	if len(args) != 6 {
		return fmt.Errorf("usage: witness_check LOG_VKEY WITNESS_VKEY OLD_SIZE OLD_ROOT PROOF NOTE")
	}
	logV, err := note.NewVerifier(args[0])
	if err != nil {
		return err
	}
	var ts uint64
	wV, err := newCosigVerifier(args[1], &ts)
	if err != nil {
		return err
	}
	oldSize, err := strconv.ParseInt(args[2], 10, 64)
	if err != nil {
		return err
	}
	proofText, err := os.ReadFile(args[4])
	if err != nil {
		return err
	}
	msg, err := os.ReadFile(args[5])
	if err != nil {
		return err
	}
	n, err := note.Open(msg, note.VerifierList(logV, wV))
	if err != nil {
		return err
	}
	signed := map[string]bool{}
	for _, s := range n.Sigs {
		signed[s.Name] = true
	}
	if !signed[logV.Name()] || !signed[wV.Name()] {
		return fmt.Errorf("note lacks the log's signature or the witness's cosignature")
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		return fmt.Errorf("checkpoint has fewer than three lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || strconv.FormatInt(size, 10) != lines[1] {
		return fmt.Errorf("bad checkpoint size %q", lines[1])
	}
	root, err := hashOf(lines[2])
	if err != nil {
		return err
	}
	if oldSize > 0 {
		oldRoot, err := hashOf(args[3])
		if err != nil {
			return err
		}
		var proof tlog.TreeProof
		for _, line := range bytes.Fields(proofText) {
			h, err := hashOf(string(line))
			if err != nil {
				return err
			}
			proof = append(proof, h)
		}
		if err := tlog.CheckTree(proof, size, root, oldSize, oldRoot); err != nil {
			return err
		}
	}
	fmt.Printf("ok %d %d\n", size, ts)
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "witness_check:", err)
		os.Exit(1)
	}
}

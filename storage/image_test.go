package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/linxGnu/grocksdb"
)

// imageKey is one key the image tests build: its type and, for a
// collection, its version and a stale version with members left on disk.
type imageKey struct {
	name         string
	typ          Type
	ver, staleAt uint64
}

// imageAlphabet makes members that collide often and sort at the edges.
var imageAlphabet = []string{"a", "b", "aa", "\x00", "\xff", ""}

func imageMember(r *rand.Rand) []byte {
	m := imageAlphabet[r.IntN(len(imageAlphabet))] + imageAlphabet[r.IntN(len(imageAlphabet))]
	return []byte(m)
}

var imageScores = []float64{math.Inf(-1), -1, 0, 1.5, 2, math.Inf(1)}

// buildImageData writes n random keys of every type into slot s of e
// (explicit versions, so two engines built from one seed are identical),
// some expired at now, some with a TTL, some with stale members of an
// older version, and the same names in the slot after s.
func buildImageData(t testing.TB, e *Engine, seed uint64, s SlotID, n int, now int64) []imageKey {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 0x1a9e))
	var keys []imageKey
	for _, slot := range []SlotID{s, s + 1} {
		for i := range n {
			k := imageKey{name: fmt.Sprintf("k%d", i), typ: Type(1 + r.IntN(5)), ver: uint64(1000 + i), staleAt: uint64(500 + i)}
			var exp int64
			switch r.IntN(5) {
			case 0:
				exp = now - 1 - int64(r.IntN(100)) // expired
			case 1:
				exp = now + 1000
			}
			err := e.Update(DefaultTable, []SlotID{slot}, func(u *Update) error {
				txn := u.Txn(slot)
				key := []byte(k.name)
				if r.IntN(3) == 0 { // stale members of an older collection
					for range 1 + r.IntN(3) {
						m := imageMember(r)
						if err := txn.PutMember(key, k.staleAt, m, []byte("stale")); err != nil {
							return err
						}
						if err := txn.PutScore(key, k.staleAt, 7, m); err != nil {
							return err
						}
					}
				}
				m := Meta{Type: k.typ, ExpireMS: exp}
				switch k.typ {
				case TypeString:
					m.Value = fmt.Appendf(nil, "v%d", i)
					k.ver = 0
				case TypeList:
					m.Version, m.Head = k.ver, ListInitialIndex
					m.Tail = m.Head
					for range r.IntN(5) {
						if err := txn.PutMember(key, k.ver, ListMember(m.Tail), fmt.Appendf(nil, "item%d", m.Tail-m.Head)); err != nil {
							return err
						}
						m.Tail++
					}
					m.Count = m.Tail - m.Head
				default:
					m.Version = k.ver
					seen := map[string]bool{}
					for range r.IntN(6) {
						mem := imageMember(r)
						if seen[string(mem)] {
							continue
						}
						seen[string(mem)] = true
						if err := txn.PutMember(key, k.ver, mem, fmt.Appendf(nil, "x%d", len(seen))); err != nil {
							return err
						}
						if k.typ == TypeZSet {
							if err := txn.PutScore(key, k.ver, imageScores[r.IntN(len(imageScores))], mem); err != nil {
								return err
							}
						}
					}
					m.Count = uint64(len(seen))
				}
				return txn.PutMeta(key, &m)
			})
			if err != nil {
				t.Fatal(err)
			}
			if slot == s {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// dumpSlot lists every meta, data and score CF entry of slot s.
func dumpSlot(t *testing.T, e *Engine, s SlotID) []string {
	t.Helper()
	var out []string
	p := SlotPrefix(DefaultTable, s)
	for _, cf := range []CF{CFMeta, CFData, CFScore} {
		var ents []imageEntry
		if err := e.exportRange(e.ro, cf, p, &ents); err != nil {
			t.Fatal(err)
		}
		for _, en := range ents {
			out = append(out, fmt.Sprintf("%s %q=%q", cfNames[cf], en.key, en.val))
		}
	}
	return out
}

// exportHeld locks slot s of e in a participant's batch and exports keys.
func exportHeld(t *testing.T, e *Engine, s SlotID, keys ...string) (*Batch, *SlotImage) {
	t.Helper()
	b := e.NewBatch(nil)
	if err := b.Hold(DefaultTable, []SlotID{s}); err != nil {
		t.Fatal(err)
	}
	var ks [][]byte
	for _, k := range keys {
		ks = append(ks, []byte(k))
	}
	im, err := e.ExportKeys(DefaultTable, s, ks)
	if err != nil {
		b.Release()
		t.Fatal(err)
	}
	return b, im
}

func imagesEqual(a, b *SlotImage) bool {
	if a.table != b.table || a.slot != b.slot || !slices.EqualFunc(a.keys, b.keys, bytes.Equal) {
		return false
	}
	for cf := range a.cfs {
		if !slices.EqualFunc(a.cfs[cf], b.cfs[cf], func(x, y imageEntry) bool {
			return bytes.Equal(x.key, y.key) && bytes.Equal(x.val, y.val)
		}) {
			return false
		}
	}
	return true
}

// An export holds the covered keys' metas (absent keys have none) and
// exactly the members of their current versions, expired keys included;
// it survives Encode and DecodeSlotImage unchanged.
func TestExportKeysRoundTrip(t *testing.T) {
	now := int64(10_000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	const s SlotID = 3
	keys := buildImageData(t, e, 7, s, 12, now)
	names := []string{"absent", "k3"} // unsorted, duplicated
	for _, k := range keys {
		names = append(names, k.name)
	}
	names = append(names, "k3", "k1")
	b, im := exportHeld(t, e, s, names...)
	b.Release()
	if im.Table() != DefaultTable || im.Slot() != s {
		t.Fatalf("image of table %d slot %d", im.Table(), im.Slot())
	}
	if len(im.Keys()) != len(keys)+1 || !slices.IsSortedFunc(im.Keys(), bytes.Compare) || !im.Covers([]byte("absent")) || im.Covers([]byte("k99")) {
		t.Fatalf("covered keys %q", im.Keys())
	}
	// What storage holds under each key, read back by a View.
	view := e.View(DefaultTable).Txn(s)
	var want []imageEntry
	wantScores := 0
	for _, k := range keys {
		mk := metaKey(DefaultTable, s, []byte(k.name))
		v, ok, err := e.get(CFMeta, mk)
		if err != nil || !ok {
			t.Fatalf("meta of %s: %v %v", k.name, ok, err)
		}
		if got, ok := im.find(CFMeta, mk); !ok || !bytes.Equal(got, v) {
			t.Errorf("image meta of %s = %q, %v; want %q", k.name, got, ok, v)
		}
		if k.typ == TypeString {
			continue
		}
		err = view.ScanMembers([]byte(k.name), k.ver, nil, false, func(m, v []byte) bool {
			want = append(want, imageEntry{memberKey(view, []byte(k.name), k.ver, m), bytes.Clone(v)})
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		err = view.ScanScores([]byte(k.name), k.ver, math.Inf(-1), math.Inf(1), false, func(float64, []byte) bool { wantScores++; return true })
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := im.find(CFMeta, metaKey(DefaultTable, s, []byte("absent"))); ok {
		t.Error("an absent key has a meta in the image")
	}
	slices.SortFunc(want, func(a, b imageEntry) int { return bytes.Compare(a.key, b.key) })
	if !slices.EqualFunc(im.cfs[CFData], want, func(x, y imageEntry) bool { return bytes.Equal(x.key, y.key) && bytes.Equal(x.val, y.val) }) {
		t.Errorf("image data entries:\n got %q\nwant %q", im.cfs[CFData], want)
	}
	if len(im.cfs[CFScore]) != wantScores {
		t.Errorf("image has %d score entries, storage %d", len(im.cfs[CFScore]), wantScores)
	}
	enc := im.Encode(nil)
	got, err := DecodeSlotImage(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !imagesEqual(im, got) {
		t.Fatal("decoded image differs from the exported one")
	}
	if again := got.Encode([]byte("x")); !bytes.Equal(again[1:], enc) {
		t.Fatal("re-encoding differs")
	}
	// An empty image round-trips too.
	empty, err := e.ExportKeys(DefaultTable, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeSlotImage(empty.Encode(nil)); err != nil || len(got.Keys()) != 0 {
		t.Fatalf("empty image: %v, %v", got, err)
	}
}

// rawImage encodes an image as given, unchecked: hostile input.
func rawImage(format byte, table TableID, slot SlotID, keys []string, cfs [3][][2]string) []byte {
	im := &SlotImage{table: table, slot: slot}
	for _, k := range keys {
		im.keys = append(im.keys, []byte(k))
	}
	for cf, ents := range cfs {
		for _, en := range ents {
			im.cfs[cf] = append(im.cfs[cf], imageEntry{[]byte(en[0]), []byte(en[1])})
		}
	}
	b := im.Encode(nil)
	b[0] = format
	return b
}

// DecodeSlotImage refuses every malformed image: framing (format, counts,
// lengths, truncation, trailing bytes), order, and entries that are not
// the covered keys' metas and current members.
func TestDecodeSlotImageRejects(t *testing.T) {
	const s SlotID = 2
	pre := string(SlotPrefix(DefaultTable, s))
	mk := func(k string) string { return pre + k }
	hash := string((&Meta{Type: TypeHash, Version: 9, Count: 1}).encode())
	str := string((&Meta{Type: TypeString, Value: []byte("v")}).encode())
	mem := func(k string, ver uint64, rest string) string {
		return string(memberPrefix(DefaultTable, s, []byte(k), ver)) + rest
	}
	score := func(k string, ver uint64, m string) string {
		return string(EncodeScore(memberPrefix(DefaultTable, s, []byte(k), ver), 1)) + m
	}
	good := [3][][2]string{
		{{mk("h"), hash}, {mk("s"), str}},
		{{mem("h", 9, "m"), "1"}},
		{{score("h", 9, "m"), ""}},
	}
	valid := rawImage(imageFormat, DefaultTable, s, []string{"h", "s", "x"}, good)
	if _, err := DecodeSlotImage(valid); err != nil {
		t.Fatalf("the valid image: %v", err)
	}
	with := func(cf CF, ents ...[2]string) [3][][2]string {
		c := good
		c[cf] = ents
		return c
	}
	bad := map[string][]byte{
		"empty":             nil,
		"format":            rawImage(2, DefaultTable, s, []string{"h", "s", "x"}, good),
		"trailing":          append(bytes.Clone(valid), 0),
		"unsorted keys":     rawImage(imageFormat, DefaultTable, s, []string{"s", "h", "x"}, good),
		"duplicate keys":    rawImage(imageFormat, DefaultTable, s, []string{"h", "h", "s", "x"}, good),
		"meta other slot":   rawImage(imageFormat, DefaultTable, s, []string{"h", "s", "x"}, with(CFMeta, [2]string{string(SlotPrefix(DefaultTable, s+1)) + "h", hash})),
		"meta short key":    rawImage(imageFormat, DefaultTable, s, []string{"h", "s", "x"}, with(CFMeta, [2]string{pre[:5], hash})),
		"meta uncovered":    rawImage(imageFormat, DefaultTable, s, []string{"h", "s", "x"}, with(CFMeta, [2]string{mk("h"), hash}, [2]string{mk("t"), str})),
		"meta corrupt":      rawImage(imageFormat, DefaultTable, s, []string{"h", "s", "x"}, with(CFMeta, [2]string{mk("h"), "\x02"})),
		"meta unsorted":     rawImage(imageFormat, DefaultTable, s, []string{"h", "s", "x"}, with(CFMeta, [2]string{mk("s"), str}, [2]string{mk("h"), hash})),
		"meta duplicate":    rawImage(imageFormat, DefaultTable, s, []string{"h", "s", "x"}, with(CFMeta, [2]string{mk("h"), hash}, [2]string{mk("h"), hash}, [2]string{mk("s"), str})),
		"member old ver":    rawImage(imageFormat, DefaultTable, s, []string{"h", "s", "x"}, with(CFData, [2]string{mem("h", 8, "m"), "1"})),
		"member of string":  rawImage(imageFormat, DefaultTable, s, []string{"h", "s", "x"}, with(CFData, [2]string{mem("s", 0, "m"), "1"})),
		"member of absent":  rawImage(imageFormat, DefaultTable, s, []string{"h", "s", "x"}, with(CFData, [2]string{mem("x", 9, "m"), "1"})),
		"member uncovered":  rawImage(imageFormat, DefaultTable, s, []string{"h", "s", "x"}, with(CFData, [2]string{mem("g", 9, "m"), "1"})),
		"member other slot": rawImage(imageFormat, DefaultTable, s, []string{"h", "s", "x"}, with(CFData, [2]string{string(memberPrefix(DefaultTable, s+1, []byte("h"), 9)), "1"})),
		"member no version": rawImage(imageFormat, DefaultTable, s, []string{"h", "s", "x"}, with(CFData, [2]string{mem("h", 9, "")[:prefixLen+4+1+4], "1"})),
		"member long len":   rawImage(imageFormat, DefaultTable, s, []string{"h", "s", "x"}, with(CFData, [2]string{pre + "\x00\x00\x00\x09h", "1"})),
		"member unsorted":   rawImage(imageFormat, DefaultTable, s, []string{"h", "s", "x"}, with(CFData, [2]string{mem("h", 9, "m"), "1"}, [2]string{mem("h", 9, "a"), "1"})),
		"member duplicate":  rawImage(imageFormat, DefaultTable, s, []string{"h", "s", "x"}, with(CFData, [2]string{mem("h", 9, "m"), "1"}, [2]string{mem("h", 9, "m"), "2"})),
		"score no score":    rawImage(imageFormat, DefaultTable, s, []string{"h", "s", "x"}, with(CFScore, [2]string{mem("h", 9, "1234567"), ""})),
		"score old ver":     rawImage(imageFormat, DefaultTable, s, []string{"h", "s", "x"}, with(CFScore, [2]string{score("h", 8, "m"), ""})),
		"key count":         append(append([]byte{imageFormat}, SlotPrefix(DefaultTable, s)...), 0xff, 0xff, 0xff, 0xff, 0x0f),
		"key length":        append(append([]byte{imageFormat}, SlotPrefix(DefaultTable, s)...), 1, 0x7f, 'a', 0, 0, 0),
		"entry count":       append(append([]byte{imageFormat}, SlotPrefix(DefaultTable, s)...), 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0),
		"bad varint":        append(append([]byte{imageFormat}, SlotPrefix(DefaultTable, s)...), 0x80),
	}
	for name, b := range bad {
		if im, err := DecodeSlotImage(b); !errors.Is(err, ErrCorruptImage) {
			t.Errorf("%s: decoded %v, err %v", name, im, err)
		}
	}
	for n := range len(valid) {
		if _, err := DecodeSlotImage(valid[:n]); !errors.Is(err, ErrCorruptImage) {
			t.Errorf("truncated to %d bytes: err %v", n, err)
		}
	}
}

// imageStep is one Txn call of the equivalence test's commands.
type imageStep struct {
	op            int
	key           []byte
	ver           uint64
	member, value []byte
	meta          Meta
	score, lo, hi float64
	from          []byte
	reverse       bool
	limit         int
}

const (
	stepMeta = iota
	stepPutMeta
	stepDeleteKey
	stepMember
	stepPutMember
	stepDeleteMember
	stepPutScore
	stepDeleteScore
	stepScanMembers
	stepScanScores
	numSteps
)

// freshVersion stands for a version the coordinator's batch made: no
// stored member has it.
const freshVersion = 1 << 50

func randomStep(r *rand.Rand, keys []imageKey, now int64) imageStep {
	k := keys[r.IntN(len(keys))]
	st := imageStep{op: r.IntN(numSteps), key: []byte(k.name), member: imageMember(r), value: fmt.Appendf(nil, "w%d", r.IntN(1000))}
	// Not k.staleAt: the image holds no stale member, and no command
	// reads a version no meta names.
	if k.ver != 0 && r.IntN(3) > 0 {
		st.ver = k.ver
	} else {
		st.ver = freshVersion + uint64(r.IntN(2))
	}
	st.meta = Meta{Type: Type(1 + r.IntN(5)), Version: st.ver, Count: uint64(r.IntN(4))}
	if st.meta.Type == TypeString {
		st.meta.Version, st.meta.Value = 0, st.value
	}
	switch r.IntN(4) {
	case 0:
		st.meta.ExpireMS = now - 5
	case 1:
		st.meta.ExpireMS = now + 5000
	}
	st.score = imageScores[r.IntN(len(imageScores))]
	st.lo, st.hi = imageScores[r.IntN(len(imageScores))], imageScores[r.IntN(len(imageScores))]
	if st.lo > st.hi {
		st.lo, st.hi = st.hi, st.lo
	}
	if r.IntN(2) == 0 {
		st.from = imageMember(r)
	}
	st.reverse = r.IntN(2) == 0
	st.limit = -1
	if r.IntN(4) == 0 {
		st.limit = 1 + r.IntN(3)
	}
	return st
}

// run makes st's call on txn and describes its result.
func (st *imageStep) run(txn *Txn) string {
	var err error
	var out string
	switch st.op {
	case stepMeta:
		m, ok, e := txn.Meta(st.key)
		out, err = fmt.Sprintf("meta %v %+v", ok, m), e
	case stepPutMeta:
		m := st.meta
		err = txn.PutMeta(st.key, &m)
	case stepDeleteKey:
		err = txn.DeleteKey(st.key)
	case stepMember:
		v, ok, e := txn.Member(st.key, st.ver, st.member)
		out, err = fmt.Sprintf("member %q %v", v, ok), e
	case stepPutMember:
		err = txn.PutMember(st.key, st.ver, st.member, st.value)
	case stepDeleteMember:
		err = txn.DeleteMember(st.key, st.ver, st.member)
	case stepPutScore:
		err = txn.PutScore(st.key, st.ver, st.score, st.member)
	case stepDeleteScore:
		err = txn.DeleteScore(st.key, st.ver, st.score, st.member)
	case stepScanMembers:
		var items []string
		err = txn.ScanMembers(st.key, st.ver, st.from, st.reverse, func(m, v []byte) bool {
			items = append(items, fmt.Sprintf("%q=%q", m, v))
			return len(items) != st.limit
		})
		out = strings.Join(items, " ")
	case stepScanScores:
		var items []string
		err = txn.ScanScores(st.key, st.ver, st.lo, st.hi, st.reverse, func(sc float64, m []byte) bool {
			items = append(items, fmt.Sprintf("%v:%q", sc, m))
			return len(items) != st.limit
		})
		out = strings.Join(items, " ")
	}
	return fmt.Sprintf("%d %q v%d: %s err=%v", st.op, st.key, st.ver, out, err)
}

// applyEffects applies a coordinator's effects in the participant's batch
// b, which holds their slots, as the participant would (DecodeEffect, the
// ops replayed in one Update per slot).
func applyEffects(t *testing.T, b *Batch, effects []SlotEffect) {
	t.Helper()
	for _, se := range effects {
		if se.Effect == nil {
			continue
		}
		eff, err := DecodeEffect(se.Effect)
		if err != nil {
			t.Fatal(err)
		}
		err = b.Update(DefaultTable, []SlotID{se.Slot}, func(u *Update) error {
			u.Txn(se.Slot).eff = eff
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// A batch reading a decoded image of another engine's keys evaluates
// exactly as a batch over that engine's own slot: the same random
// commands (reads and writes of every kind, on every type, expired keys,
// current and fresh versions, stale members on disk, some commands
// failing) give the same results
// and byte-identical Effects. The image's slot is not committable; its
// effects applied by the participant make it equal to the direct run.
//
// With members left out (lazy: the source exports metas alone), the batch
// reads them from the source engine a page of at most two at a time.
func TestImageBatchMatchesStorage(t *testing.T) {
	t.Run("copied", func(t *testing.T) { testImageBatchMatchesStorage(t, false) })
	t.Run("left out", func(t *testing.T) { testImageBatchMatchesStorage(t, true) })
}

// pagedSource is a MemberSource over an engine's slot, in pages of two.
type pagedSource struct {
	e     *Engine
	s     SlotID
	reads int
}

func (p *pagedSource) Members(cf CF, lower, upper []byte, reverse bool, limit int) ([][]byte, [][]byte, bool, error) {
	p.reads++
	return p.e.readMembers(DefaultTable, p.s, cf, lower, upper, reverse, min(limit, 2))
}

func testImageBatchMatchesStorage(t *testing.T, lazy bool) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	now := int64(50_000)
	const s SlotID = 5
	direct := openTest(t, t.TempDir(), &now)
	defer direct.Close()
	source := openTest(t, t.TempDir(), &now)
	defer source.Close()
	if lazy {
		source.opts.ExportMembersMax = -1
	}
	coord := openTest(t, t.TempDir(), &now)
	defer coord.Close()
	keys := buildImageData(t, direct, seed, s, 24, now)
	buildImageData(t, source, seed, s, 24, now)
	if !slices.Equal(dumpSlot(t, direct, s), dumpSlot(t, source, s)) {
		t.Fatal("the two engines were built differently")
	}
	covered := append(slices.Clone(keys[:16]), imageKey{name: "absent", ver: 77, staleAt: 78})
	var names []string
	for _, k := range covered {
		names = append(names, k.name)
	}
	part, exported := exportHeld(t, source, s, names...)
	defer part.Release()
	im, err := DecodeSlotImage(exported.Encode(nil))
	if err != nil {
		t.Fatal(err)
	}
	src := &pagedSource{e: source, s: s}
	if im.LeftOut() != lazy {
		t.Fatalf("members left out: %v, want %v", im.LeftOut(), lazy)
	}
	im.SetSource(src)

	r := rand.New(rand.NewPCG(seed, 0x3e9))
	type command struct {
		steps []imageStep
		fail  bool
	}
	var cmds []command
	for range 40 {
		c := command{fail: r.IntN(6) == 0}
		for range 1 + r.IntN(8) {
			c.steps = append(c.steps, randomStep(r, covered, now))
		}
		cmds = append(cmds, c)
	}
	failed := errors.New("command fails")
	run := func(b *Batch) []string {
		var log []string
		for i, c := range cmds {
			err := b.Update(DefaultTable, []SlotID{s}, func(u *Update) error {
				txn := u.Txn(s)
				for _, st := range c.steps {
					log = append(log, fmt.Sprintf("cmd %d: %s", i, st.run(txn)))
				}
				if c.fail {
					return failed
				}
				return nil
			})
			if err != nil && !errors.Is(err, failed) {
				t.Fatal(err)
			}
		}
		return log
	}
	db := direct.NewBatch(nil)
	defer db.Release()
	want := run(db)
	ib := coord.NewBatch(nil)
	defer ib.Release()
	if err := ib.UseImage(im); err != nil {
		t.Fatal(err)
	}
	got := run(ib)
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("step %d:\nimage   %s\nstorage %s", i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d steps through the image, %d over storage", len(got), len(want))
	}
	wantEff, gotEff := db.Effects(), ib.Effects()
	if !slices.EqualFunc(gotEff, wantEff, func(a, b SlotEffect) bool { return a.Slot == b.Slot && bytes.Equal(a.Effect, b.Effect) }) {
		t.Fatalf("effects differ:\nimage   %v\nstorage %v", gotEff, wantEff)
	}
	if len(gotEff) != 1 || gotEff[0].Effect == nil {
		t.Fatalf("the commands wrote nothing (effects %v): a weak test", gotEff)
	}
	if (src.reads > 0) != lazy {
		t.Fatalf("%d reads of left-out members, lazy %v", src.reads, lazy)
	}
	t.Logf("%d reads of left-out members", src.reads)

	// Keys the image does not cover are never read as absent.
	for _, k := range []string{"k20", "k16", "absent2"} {
		key := []byte(k)
		err := ib.Update(DefaultTable, []SlotID{s}, func(u *Update) error {
			txn := u.Txn(s)
			checks := map[string]error{}
			_, _, checks["Meta"] = txn.Meta(key)
			_, _, checks["Member"] = txn.Member(key, 1000, []byte("a"))
			checks["ScanMembers"] = txn.ScanMembers(key, 1000, nil, false, func(_, _ []byte) bool { return true })
			checks["ScanScores"] = txn.ScanScores(key, 1000, math.Inf(-1), math.Inf(1), true, func(float64, []byte) bool { return true })
			checks["PutMeta"] = txn.PutMeta(key, &Meta{Type: TypeString})
			checks["DeleteKey"] = txn.DeleteKey(key)
			checks["PutMember"] = txn.PutMember(key, 1000, []byte("a"), nil)
			checks["DeleteScore"] = txn.DeleteScore(key, 1000, 1, []byte("a"))
			checks["ScanKeys"] = txn.ScanKeys(nil, func([]byte, Meta) bool { return true })
			for what, err := range checks {
				if !errors.Is(err, ErrNotInImage) {
					t.Errorf("%s of uncovered %s: %v, want ErrNotInImage", what, k, err)
				}
			}
			return failed
		})
		if !errors.Is(err, failed) {
			t.Fatal(err)
		}
	}

	// The coordinator does not commit the image slot's effect.
	if err := ib.Commit(); !errors.Is(err, ErrImageCommit) {
		t.Fatalf("Commit of an image slot's writes: %v, want ErrImageCommit", err)
	}
	if !ib.Idle() {
		t.Fatal("a refused commit left the batch holding state")
	}
	if err := db.Commit(); err != nil {
		t.Fatal(err)
	}
	// The participant applies them under the locks it held for the export.
	applyEffects(t, part, gotEff)
	if err := part.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, want := dumpSlot(t, source, s), dumpSlot(t, direct, s); !slices.Equal(got, want) {
		t.Fatalf("after applying the image's effects:\n%q\nthe direct run:\n%q", got, want)
	}
	k1, e1 := source.SlotCounts(DefaultTable, s)
	k2, e2 := direct.SlotCounts(DefaultTable, s)
	if k1 != k2 || e1 != e2 {
		t.Fatalf("counts %d/%d after the image's effects, %d/%d direct", k1, e1, k2, e2)
	}
	// The counts are right, not only equal: one per stored key and TTL.
	var metas, ttls int64
	for _, line := range dumpSlot(t, direct, s) {
		if strings.HasPrefix(line, "meta ") {
			metas++
		}
	}
	err = direct.View(DefaultTable).Txn(s).iterate(CFMeta, SlotPrefix(DefaultTable, s), prefixEnd(SlotPrefix(DefaultTable, s)), false, func(_, v []byte) bool {
		if rawHasTTL(v) {
			ttls++
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if k2 != metas || e2 != ttls {
		t.Fatalf("counts %d keys %d TTLs; the slot holds %d and %d", k2, e2, metas, ttls)
	}
}

// committerLog records what a batch admits.
type committerLog struct{ admitted [][]SlotID }

func (c *committerLog) Admit(_ TableID, slots []SlotID) ([]uint64, error) {
	c.admitted = append(c.admitted, slices.Clone(slots))
	return nil, nil
}

func (c *committerLog) Commit(b *Batch) error { return b.CommitLocal() }

// A batch may mix image slots with local ones: only the local ones are
// locked, admitted and committable; the image slot reads the members of a
// version the batch itself made; misuse is refused.
func TestImageBatchWithLocalSlots(t *testing.T) {
	now := int64(1000)
	const img, local SlotID = 7, 9
	src := openTest(t, t.TempDir(), &now)
	defer src.Close()
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	commitHash(t, src, img, "h", "a=1", "b=2")
	part, im := exportHeld(t, src, img, "h", "new")
	part.Release()

	log := &committerLog{}
	b := e.NewBatch(func(TableID) Committer { return log })
	defer b.Release()
	if err := b.UseImage(im); err != nil {
		t.Fatal(err)
	}
	if err := b.UseImage(im); err == nil {
		t.Fatal("a second image of the slot was accepted")
	}
	if err := b.Update(DefaultTable+1, []SlotID{local}, func(*Update) error { return nil }); !errors.Is(err, ErrBatchBusy) {
		t.Fatalf("a command of another table: %v, want ErrBatchBusy", err)
	}
	var ver uint64
	err := b.Update(DefaultTable, []SlotID{img, local}, func(u *Update) error {
		if !e.stripes[e.stripeOf(DefaultTable, img)].TryLock() {
			t.Error("the image slot is locked")
		} else {
			e.stripes[e.stripeOf(DefaultTable, img)].Unlock()
		}
		txn := u.Txn(img)
		m, ok, err := txn.Meta([]byte("h"))
		if err != nil || !ok || m.Count != 2 {
			t.Fatalf("h through the image: %+v %v %v", m, ok, err)
		}
		// SET-like copy of h's members into a new collection of "new".
		if ver, err = txn.NewVersion(); err != nil {
			return err
		}
		var copied []kv
		err = txn.ScanMembers([]byte("h"), m.Version, nil, false, func(k, v []byte) bool {
			copied = append(copied, kv{string(k), string(v)})
			return true
		})
		if err != nil {
			return err
		}
		for _, it := range copied {
			if err := txn.PutMember([]byte("new"), ver, []byte(it.k), []byte(it.v)); err != nil {
				return err
			}
		}
		if err := txn.PutMeta([]byte("new"), &Meta{Type: TypeHash, Version: ver, Count: uint64(len(copied))}); err != nil {
			return err
		}
		putString(t, u, local, "l", "x")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(log.admitted, [][]SlotID{{local}}, slices.Equal) {
		t.Fatalf("admitted %v, want only the local slot", log.admitted)
	}
	err = b.Update(DefaultTable, []SlotID{img}, func(u *Update) error {
		wantItems(t, "the new version, through the image", scanAll(t, u.Txn(img), "new", ver, nil, true), "b=2", "a=1")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(log.admitted) != 1 {
		t.Fatalf("a command of the image slot alone was admitted: %v", log.admitted)
	}
	if err := b.UseImage(&SlotImage{table: DefaultTable, slot: local}); err == nil {
		t.Fatal("an image of a slot with pending writes was accepted")
	}
	effects := b.Effects()
	if len(effects) != 2 || effects[0].Slot != img || effects[0].Effect == nil || effects[1].Slot != local {
		t.Fatalf("effects %v", effects)
	}
	if err := b.Commit(); !errors.Is(err, ErrImageCommit) {
		t.Fatalf("Commit: %v, want ErrImageCommit", err)
	}
	if _, ok := getString(t, e.View(DefaultTable).Txn(local), "l"); ok {
		t.Fatal("a refused commit wrote the local slot")
	}
	if !e.stripes[e.stripeOf(DefaultTable, local)].TryLock() {
		t.Fatal("a refused commit kept the local slot locked")
	}
	e.stripes[e.stripeOf(DefaultTable, local)].Unlock()

	// An image slot only read is left out of the commit of local writes.
	if err := b.UseImage(im); err != nil {
		t.Fatal(err)
	}
	if err := b.Hold(DefaultTable, []SlotID{img, local}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.held, e.stripesOf(DefaultTable, []SlotID{local})) {
		t.Fatalf("Hold locked stripes %v", b.held)
	}
	err = b.Update(DefaultTable, []SlotID{img, local}, func(u *Update) error {
		v, ok, err := u.Txn(img).Member([]byte("h"), 0, []byte("a"))
		if err != nil || ok {
			t.Errorf("member of another version: %q %v %v", v, ok, err)
		}
		m, _, err := u.Txn(img).Meta([]byte("h"))
		if err != nil {
			return err
		}
		v, ok, err = u.Txn(img).Member([]byte("h"), m.Version, []byte("a"))
		if err != nil || !ok || string(v) != "1" {
			t.Errorf("member a of h: %q %v %v", v, ok, err)
		}
		putString(t, u, local, "l", "y")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if v, _ := getString(t, e.View(DefaultTable).Txn(local), "l"); v != "y" {
		t.Fatalf("l = %q after the commit", v)
	}
	if _, ok := getString(t, e.View(DefaultTable).Txn(img), "h"); ok {
		t.Fatal("the image slot's key reached the coordinator's storage")
	}
}

// FuzzDecodeSlotImage: no input makes DecodeSlotImage, or a batch reading
// what it accepted, panic; what it accepts re-encodes to an image that
// decodes the same. The seeds are real images and damaged copies.
func FuzzDecodeSlotImage(f *testing.F) {
	now := int64(10_000)
	dir := f.TempDir()
	e, err := Open(Options{Dir: dir, BlockCacheBytes: 8 << 20, WriteBufferBytes: 4 << 20, Now: func() int64 { return now }})
	if err != nil {
		f.Fatal(err)
	}
	defer e.Close()
	if err := e.EnsureTable(DefaultTable, 16); err != nil {
		f.Fatal(err)
	}
	const s SlotID = 4
	keys := buildImageData(f, e, 3, s, 10, now)
	var names [][]byte
	for _, k := range keys {
		names = append(names, []byte(k.name))
	}
	for _, n := range []int{0, 1, 3, len(names)} {
		im, err := e.ExportKeys(DefaultTable, s, append(names[:n:n], []byte("absent")))
		if err != nil {
			f.Fatal(err)
		}
		enc := im.Encode(nil)
		f.Add(enc)
		f.Add(enc[:len(enc)/2])
		flipped := bytes.Clone(enc)
		flipped[len(flipped)*2/3] ^= 0x40
		f.Add(flipped)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		im, err := DecodeSlotImage(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptImage) {
				t.Fatalf("error %v is not ErrCorruptImage", err)
			}
			return
		}
		again, err := DecodeSlotImage(im.Encode(nil))
		if err != nil || !imagesEqual(im, again) {
			t.Fatalf("re-encoded image: %v", err)
		}
		batch := e.NewBatch(nil)
		defer batch.Release()
		if err := batch.UseImage(im); err != nil {
			t.Fatal(err)
		}
		err = batch.Update(im.Table(), []SlotID{im.Slot()}, func(u *Update) error {
			txn := u.Txn(im.Slot())
			for _, key := range im.Keys() {
				m, ok, err := txn.Meta(key)
				if err != nil {
					return err
				}
				if !ok || m.Type == TypeString {
					continue
				}
				// Reads over the image alone, then merged with writes.
				for range 2 {
					for _, rev := range []bool{false, true} {
						if err := txn.ScanMembers(key, m.Version, []byte("a"), rev, func(_, _ []byte) bool { return true }); err != nil {
							return err
						}
						if err := txn.ScanScores(key, m.Version, math.Inf(-1), math.Inf(1), rev, func(float64, []byte) bool { return true }); err != nil {
							return err
						}
					}
					if _, _, err := txn.Member(key, m.Version, []byte("a")); err != nil {
						return err
					}
					if err := txn.PutMember(key, m.Version, []byte("b"), []byte("x")); err != nil {
						return err
					}
					if err := txn.PutScore(key, m.Version, 1, []byte("b")); err != nil {
						return err
					}
				}
				if err := txn.DeleteKey(key); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("reading an accepted image: %v", err)
		}
		effects := batch.Effects()
		wrote := len(effects) > 0 && effects[0].Effect != nil
		if err := batch.Commit(); wrote != errors.Is(err, ErrImageCommit) || (!wrote && err != nil) {
			t.Fatalf("Commit (image written: %v): %v", wrote, err)
		}
	})
}

// An image's iterator moves as RocksDB's over the same keys and bounds
// (what pendingView.merge relies on: a range delete's skip seeks both
// ways), for random bounds and random moves.
func TestImageIterMatchesRocksDB(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0x17e4))
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	const s SlotID = 6
	const ver = 42
	h := []byte("h")
	p := memberPrefix(DefaultTable, s, h, ver)
	err := e.Update(DefaultTable, []SlotID{s}, func(u *Update) error {
		txn := u.Txn(s)
		for range 30 {
			if err := txn.PutMember(h, ver, imageMember(r), []byte("v")); err != nil {
				return err
			}
		}
		return txn.PutMeta(h, &Meta{Type: TypeSet, Version: ver, Count: 30})
	})
	if err != nil {
		t.Fatal(err)
	}
	part, im := exportHeld(t, e, s, "h")
	part.Release()
	key := func() []byte { return append(slices.Clip(p), imageMember(r)...) }
	for range 300 {
		lower, upper := slices.Clip(p), prefixEnd(p)
		if r.IntN(2) == 0 {
			lower = key()
		}
		if r.IntN(2) == 0 {
			upper = key()
		}
		if bytes.Compare(lower, upper) >= 0 {
			continue
		}
		ro := grocksdb.NewDefaultReadOptions()
		ro.SetIterateLowerBound(lower)
		ro.SetIterateUpperBound(upper)
		rit := rocksIter{e.db.NewIteratorCF(ro, e.cfs[CFData])}
		iit := im.iter(CFData, lower, upper)
		var trace []string
		for step := range 20 {
			var what string
			// A target in the bounds, as the merge's seeks are.
			target := key()
			if bytes.Compare(target, lower) < 0 || bytes.Compare(target, upper) >= 0 {
				target = lower
			}
			switch n := r.IntN(6); {
			case step == 0 || n == 0:
				what = "first"
				rit.it.SeekToFirst()
				iit.i = 0
			case n == 1:
				what = "last"
				rit.it.SeekToLast()
				iit.i = len(iit.ents) - 1
			case n == 2:
				what = fmt.Sprintf("seek %q", target)
				rit.Seek(target)
				iit.Seek(target)
			case n == 3:
				what = fmt.Sprintf("seek for prev %q", target)
				rit.SeekForPrev(target)
				iit.SeekForPrev(target)
			case !rit.Valid():
				continue // moving an invalid iterator is undefined
			case n == 4:
				what = "next"
				rit.Next()
				iit.Next()
			default:
				what = "prev"
				rit.Prev()
				iit.Prev()
			}
			trace = append(trace, what)
			if rit.Valid() != iit.Valid() || (rit.Valid() && !bytes.Equal(rit.Key(), iit.Key())) {
				var rk, ik []byte
				if rit.Valid() {
					rk = rit.Key()
				}
				if iit.Valid() {
					ik = iit.Key()
				}
				t.Fatalf("bounds [%q, %q) after %v: rocksdb %v %q, image %v %q", lower, upper, trace, rit.Valid(), rk, iit.Valid(), ik)
			}
		}
		rit.it.Close()
		ro.Destroy()
	}
}

// Every read of a collection whose members an image left out (a list, a
// hash and a zset of 7, read in pages of two) answers what the slot
// holds: point reads, whole and partial scans both ways, score ranges.
func TestImageLeftOutMembers(t *testing.T) {
	now := int64(1000)
	const s SlotID = 3
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	e.opts.ExportMembersMax = 3
	coord := openTest(t, t.TempDir(), &now)
	defer coord.Close()
	members := []string{"a", "b", "c", "d", "e", "f", "g"}
	err := e.Update(DefaultTable, []SlotID{s}, func(u *Update) error {
		txn := u.Txn(s)
		for i, name := range []string{"hash", "zset"} {
			ver := uint64(10 + i)
			for j, m := range members {
				if err := txn.PutMember([]byte(name), ver, []byte(m), []byte("v"+m)); err != nil {
					return err
				}
				if err := txn.PutScore([]byte(name), ver, float64(j%3), []byte(m)); err != nil {
					return err
				}
			}
			if err := txn.PutMeta([]byte(name), &Meta{Type: []Type{TypeHash, TypeZSet}[i], Version: ver, Count: uint64(len(members))}); err != nil {
				return err
			}
		}
		return txn.PutMeta([]byte("small"), &Meta{Type: TypeSet, Version: 20, Count: 1})
	})
	if err != nil {
		t.Fatal(err)
	}
	part, exported := exportHeld(t, e, s, "hash", "zset", "small", "none")
	defer part.Release()
	im, err := DecodeSlotImage(exported.Encode(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(im.lazy) != 2 {
		t.Fatalf("left out %q, want hash and zset", im.lazy)
	}
	src := &pagedSource{e: e, s: s}
	im.SetSource(src)
	b := coord.NewBatch(nil)
	defer b.Release()
	if err := b.UseImage(im); err != nil {
		t.Fatal(err)
	}
	read := func(txn *Txn) []string {
		var out []string
		for i, name := range []string{"hash", "zset"} {
			key, ver := []byte(name), uint64(10+i)
			for _, m := range []string{"a", "d", "g", "x"} {
				v, ok, err := txn.Member(key, ver, []byte(m))
				out = append(out, fmt.Sprintf("%s member %s: %q %v %v", name, m, v, ok, err))
			}
			for _, from := range []string{"", "c", "cc", "g", "z"} {
				for _, rev := range []bool{false, true} {
					var got []string
					var f []byte
					if from != "" {
						f = []byte(from)
					}
					err := txn.ScanMembers(key, ver, f, rev, func(m, v []byte) bool { got = append(got, string(m)+"="+string(v)); return true })
					out = append(out, fmt.Sprintf("%s scan from %q reverse %v: %v %v", name, from, rev, got, err))
					got = nil
					err = txn.ScanMembers(key, ver, f, rev, func(m, v []byte) bool { got = append(got, string(m)); return len(got) < 3 })
					out = append(out, fmt.Sprintf("%s scan 3 from %q reverse %v: %v %v", name, from, rev, got, err))
				}
			}
			for _, rev := range []bool{false, true} {
				var got []string
				err := txn.ScanScores(key, ver, 0, 1, rev, func(sc float64, m []byte) bool { got = append(got, fmt.Sprint(sc, string(m))); return true })
				out = append(out, fmt.Sprintf("%s scores reverse %v: %v %v", name, rev, got, err))
			}
		}
		return out
	}
	var want, got []string
	want = read(e.View(DefaultTable).Txn(s))
	err = b.Update(DefaultTable, []SlotID{s}, func(u *Update) error {
		got = read(u.Txn(s))
		// Pending writes merge with the pages read.
		txn := u.Txn(s)
		if err := txn.PutMember([]byte("hash"), 10, []byte("cc"), []byte("new")); err != nil {
			return err
		}
		if err := txn.DeleteMember([]byte("hash"), 10, []byte("e")); err != nil {
			return err
		}
		var all []string
		err := txn.ScanMembers([]byte("hash"), 10, nil, true, func(m, _ []byte) bool { all = append(all, string(m)); return true })
		if w := []string{"g", "f", "d", "cc", "c", "b", "a"}; err != nil || !slices.Equal(all, w) {
			t.Errorf("reverse scan over pending writes: %v %v, want %v", all, err, w)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Errorf("image   %s\nstorage %s", got[i], want[i])
			}
		}
		t.Fatal("reads through the image differ from the slot's")
	}
	if src.reads < 20 {
		t.Fatalf("%d reads of left-out members: the image copied them", src.reads)
	}
}

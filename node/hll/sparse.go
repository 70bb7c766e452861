package hll

// sketch is a value being changed: its bytes and the byte just past them.
// Redis keeps its strings with a terminating zero byte after them, which
// a truncated XZERO opcode at the end of a hand-made value reads; one of
// its updates can overwrite that byte and read it back on the next
// element of the same command. tail models it for the length of one
// command (a stored value has a zero there).
type sketch struct {
	b    []byte
	tail byte
}

func (s *sketch) at(i int) byte {
	if i < len(s.b) {
		return s.b[i]
	}
	if i == len(s.b) {
		return s.tail
	}
	return 0
}

// toDense turns a sparse value dense (Redis's hllSparseToDense): the
// header is kept (cached cardinality and unused bytes included) with the
// encoding changed. false when the sparse registers are corrupt.
func (s *sketch) toDense() bool {
	if s.b[encOffset] == Dense {
		return true
	}
	d := make([]byte, DenseSize)
	copy(d, s.b[:HeaderSize])
	d[encOffset] = Dense
	regs := d[HeaderSize:]
	idx := 0
	for p := HeaderSize; p < len(s.b); {
		op := s.b[p]
		switch {
		case isZero(op):
			idx += zeroLen(op)
			p++
		case isXZero(op):
			idx += xzeroLen(op, s.at(p+1))
			p += 2
		default:
			n, v := valLen(op), valValue(op)
			if n+idx > Registers {
				return false
			}
			for ; n > 0; n-- {
				denseSetRaw(regs, idx, v)
				idx++
			}
			p++
		}
	}
	if idx != Registers {
		return false
	}
	s.b, s.tail = d, 0
	return true
}

// sparseSet raises register index to count in a sparse value (Redis's
// hllSparseSet): 1 if it changed (the cached cardinality is then stale),
// 0 if not, -1 if the value is corrupt. It turns the value dense when
// count does not fit a VAL opcode or the value would grow past maxBytes.
func (s *sketch) sparseSet(index int, count uint8, maxBytes int) int {
	if count > sparseValMax {
		return s.promote(index, count)
	}
	// Find the opcode covering the register.
	end := len(s.b)
	p, first, span, prev := HeaderSize, 0, 0, -1
	for p < end {
		op, oplen := s.b[p], 1
		switch {
		case isZero(op):
			span = zeroLen(op)
		case isVal(op):
			span = valLen(op)
		default:
			span = xzeroLen(op, s.at(p+1))
			oplen = 2
		}
		if index <= first+span-1 {
			break
		}
		prev = p
		p += oplen
		first += span
	}
	if span == 0 || p >= end {
		return -1
	}
	op := s.b[p]
	oldLen := 1
	if isXZero(op) {
		oldLen = 2
	}
	next := p + oldLen // meaningful only when < end

	switch {
	case isVal(op) && valValue(op) >= count:
		return 0
	case isVal(op) && valLen(op) == 1, isZero(op) && zeroLen(op) == 1:
		s.b[p] = valOp(count, 1)
		return s.updated(prev)
	}

	// Split the opcode into up to three: the registers before, ours,
	// the registers after.
	last := first + span - 1
	seq := make([]byte, 0, 5)
	if isVal(op) {
		cur := valValue(op)
		if index != first {
			seq = append(seq, valOp(cur, index-first))
		}
		seq = append(seq, valOp(count, 1))
		if index != last {
			seq = append(seq, valOp(cur, last-index))
		}
	} else {
		if index != first {
			seq = appendZeros(seq, index-first)
		}
		seq = append(seq, valOp(count, 1))
		if index != last {
			seq = appendZeros(seq, last-index)
		}
	}
	delta := len(seq) - oldLen
	if delta > 0 && len(s.b)+delta > maxBytes {
		return s.promote(index, count)
	}
	newLen := len(s.b) + delta
	nb := make([]byte, 0, newLen+8)
	nb = append(nb, s.b[:p]...)
	nb = append(nb, seq...)
	if next < end {
		nb = append(nb, s.b[next:]...)
	}
	s.tail = 0
	if len(nb) > newLen {
		// A truncated XZERO at the end: Redis writes the sequence's last
		// byte past the string, over its terminator.
		s.tail = nb[newLen]
		nb = nb[:newLen]
	}
	s.b = nb
	return s.updated(prev)
}

// updated ends a sparse update (Redis's "updated:" step): adjacent VAL
// opcodes of one value are merged, for up to 5 opcodes from the one before
// the change (prev, -1 for none), and the cached cardinality is marked
// stale.
func (s *sketch) updated(prev int) int {
	p := prev
	if p < 0 {
		p = HeaderSize
	}
	for scan := 5; p < len(s.b) && scan > 0; {
		scan--
		op := s.b[p]
		if isXZero(op) {
			p += 2
			continue
		}
		if isZero(op) {
			p++
			continue
		}
		if p+1 < len(s.b) && isVal(s.b[p+1]) {
			v1, v2 := valValue(op), valValue(s.b[p+1])
			if n := valLen(op) + valLen(s.b[p+1]); v1 == v2 && n <= sparseValLen {
				s.b[p+1] = valOp(v1, n)
				s.b = append(s.b[:p], s.b[p+1:]...)
				s.tail = 0
				continue // try the merged opcode with the next one
			}
		}
		p++
	}
	invalidate(s.b)
	return 1
}

// promote turns the value dense and sets the register there.
func (s *sketch) promote(index int, count uint8) int {
	if !s.toDense() {
		return -1
	}
	denseSet(s.b[HeaderSize:], index, count)
	return 1
}

package command

import "github.com/pika-node/pika-node/storage"

// LCS, as redis-server 7.0's lcsCommand answers it: the longest common
// subsequence of two strings (missing keys are empty strings), its
// length (LEN) or its matching ranges (IDX), found by the same dynamic
// programming table walked back the same way, so that among several
// subsequences of the same length the one Redis picks is picked.

func registerLCS(t *Table) {
	t.Register(Spec{Name: "lcs", Arity: -3, Flags: ReadOnly, FirstKey: 1, LastKey: 2, Step: 1, Handler: cmdLCS})
}

// lcsRange is one match of LCS ... IDX: a run of the subsequence found at
// a[aStart..aEnd] and b[bStart..bEnd].
type lcsRange struct{ aStart, aEnd, bStart, bEnd int }

func cmdLCS(c *Ctx) error {
	var strs [2][]byte
	for i, key := range c.Args[1:3] {
		m, ok, err := c.Txn(key).Meta(key)
		if err != nil {
			return err
		}
		if ok && m.Type != storage.TypeString {
			return Error("ERR The specified keys must contain string values")
		}
		strs[i] = m.Value
	}
	var getLen, getIdx, withLen bool
	var minLen int64
	for j := 3; j < len(c.Args); j++ {
		opt := c.Args[j]
		switch {
		case isArg(opt, "idx"):
			getIdx = true
		case isArg(opt, "len"):
			getLen = true
		case isArg(opt, "withmatchlen"):
			withLen = true
		case isArg(opt, "minmatchlen") && j+1 < len(c.Args):
			n, err := parseInt(c.Args[j+1])
			if err != nil {
				return err
			}
			minLen = max(n, 0)
			j++
		default:
			return ErrSyntax
		}
	}
	if getIdx && getLen {
		return Error("ERR If you want both the length and indexes, please just use IDX.")
	}
	a, b := strs[0], strs[1]
	if cells := (int64(len(a)) + 1) * (int64(len(b)) + 1); cells*4 > maxStringLen {
		return Error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
	}
	// dp[i*(len(b)+1)+j] is the length of the LCS of a[:i] and b[:j].
	w := len(b) + 1
	dp := make([]uint32, (len(a)+1)*w)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			switch {
			case a[i-1] == b[j-1]:
				dp[i*w+j] = dp[(i-1)*w+j-1] + 1
			default:
				dp[i*w+j] = max(dp[(i-1)*w+j], dp[i*w+j-1])
			}
		}
	}
	total := int(dp[len(a)*w+len(b)])
	if getLen {
		c.R.Int(int64(total))
		return nil
	}
	// Walk back from the end: a match takes the character, else the
	// larger neighbour (b's side on a tie); runs of matches are ranges.
	out := make([]byte, total)
	var ranges []lcsRange
	open := false
	var cur lcsRange
	emit := func() {
		if n := cur.aEnd - cur.aStart + 1; minLen == 0 || int64(n) >= minLen {
			ranges = append(ranges, cur)
		}
		open = false
	}
	k := total
	for i, j := len(a), len(b); i > 0 && j > 0; {
		if a[i-1] == b[j-1] {
			out[k-1] = a[i-1]
			k--
			if !open {
				cur, open = lcsRange{i - 1, i - 1, j - 1, j - 1}, true
			} else {
				cur.aStart, cur.bStart = i-1, j-1
			}
			i, j = i-1, j-1
			if cur.aStart == 0 || cur.bStart == 0 {
				emit()
			}
			continue
		}
		if dp[(i-1)*w+j] > dp[i*w+j-1] {
			i--
		} else {
			j--
		}
		if open {
			emit()
		}
	}
	if !getIdx {
		c.R.Bulk(out)
		return nil
	}
	c.R.Map(2)
	c.R.BulkString("matches")
	c.R.Array(len(ranges))
	for _, r := range ranges {
		if withLen {
			c.R.Array(3)
		} else {
			c.R.Array(2)
		}
		c.R.Array(2)
		c.R.Int(int64(r.aStart))
		c.R.Int(int64(r.aEnd))
		c.R.Array(2)
		c.R.Int(int64(r.bStart))
		c.R.Int(int64(r.bEnd))
		if withLen {
			c.R.Int(int64(r.aEnd - r.aStart + 1))
		}
	}
	c.R.BulkString("len")
	c.R.Int(int64(total))
	return nil
}

package command

import (
	"math"
	"math/big"
	"time"
)

// The blocking commands, in the form that does not block: each tries
// once and answers as it would inside MULTI (where Redis never blocks):
// what it popped, or a null when every key is empty or missing. A client
// connection that sent one outside MULTI and a script waits and tries
// again (package node, docs/blocking.md); every other caller (MULTI,
// FUNCTION's scripts, another node's forward of a try) gets the null at
// once. Spec.Timeout is set for them.

func registerBlocking(t *Table) {
	t.Register(
		Spec{Name: "blpop", Arity: -3, Flags: Write, FirstKey: 1, LastKey: -2, Step: 1, Timeout: lastArgTimeout, Handler: cmdBPop(true)},
		Spec{Name: "brpop", Arity: -3, Flags: Write, FirstKey: 1, LastKey: -2, Step: 1, Timeout: lastArgTimeout, Handler: cmdBPop(false)},
		Spec{Name: "brpoplpush", Arity: 4, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 2, Step: 1, Timeout: lastArgTimeout, Handler: cmdBRPopLPush},
		Spec{Name: "blmove", Arity: 6, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 2, Step: 1, Timeout: blmoveTimeout, Handler: cmdBLMove},
		Spec{Name: "blmpop", Arity: -5, Flags: Write, Keys: shiftedKeys(mpopKeys), Timeout: mpopTimeout("left", "right"), Handler: shifted(cmdLMPop)},
		Spec{Name: "bzpopmin", Arity: -3, Flags: Write | Fast, FirstKey: 1, LastKey: -2, Step: 1, Timeout: lastArgTimeout, Handler: cmdBZPop(false)},
		Spec{Name: "bzpopmax", Arity: -3, Flags: Write | Fast, FirstKey: 1, LastKey: -2, Step: 1, Timeout: lastArgTimeout, Handler: cmdBZPop(true)},
		Spec{Name: "bzmpop", Arity: -5, Flags: Write, Keys: shiftedKeys(mpopKeys), Timeout: mpopTimeout("min", "max"), Handler: shifted(cmdZMPop)},
	)
}

// Forever is the timeout of a wait without end (timeout 0).
const Forever time.Duration = -1

// ParseTimeout reads a blocking command's timeout in seconds as Redis
// 7.0 does (a long double, rounded up to milliseconds; one past the
// range of a millisecond count reads as negative); 0 is Forever.
func ParseTimeout(b []byte) (time.Duration, error) {
	f, err := parseLongDouble(b)
	if err != nil {
		return 0, Error("ERR timeout is not a float or out of range")
	}
	ms, _ := new(big.Float).Mul(f, big.NewFloat(1000)).Float64()
	if math.IsInf(ms, 0) || ms >= math.MaxInt64 || ms < 0 {
		return 0, Error("ERR timeout is negative")
	}
	ms = math.Ceil(ms)
	if ms == 0 {
		return Forever, nil
	}
	if ms > float64(math.MaxInt64/int64(time.Millisecond)) {
		return Forever, nil // longer than any wait
	}
	return time.Duration(ms) * time.Millisecond, nil
}

func lastArgTimeout(args [][]byte) (time.Duration, error) { return ParseTimeout(args[len(args)-1]) }

func firstArgTimeout(args [][]byte) (time.Duration, error) { return ParseTimeout(args[1]) }

// mpopTimeout is BLMPOP's and BZMPOP's Timeout: the timeout, then the
// rest checked as LMPOP and ZMPOP check it.
func mpopTimeout(first, second string) func([][]byte) (time.Duration, error) {
	return func(args [][]byte) (time.Duration, error) {
		d, err := firstArgTimeout(args)
		if err != nil {
			return 0, err
		}
		if _, _, _, err := mpopArgs(args[1:], first, second); err != nil {
			return 0, err
		}
		return d, nil
	}
}

// blmoveTimeout is BLMOVE's Timeout: its sides, then the timeout.
func blmoveTimeout(args [][]byte) (time.Duration, error) {
	for _, side := range args[3:5] {
		if !isArg(side, "left") && !isArg(side, "right") {
			return 0, ErrSyntax
		}
	}
	return lastArgTimeout(args)
}

// shifted runs h over the arguments after the timeout (BLMPOP as LMPOP,
// BZMPOP as ZMPOP), once the timeout parsed.
func shifted(h Handler) Handler {
	return func(c *Ctx) error {
		if _, err := firstArgTimeout(c.Args); err != nil {
			return err
		}
		args := c.Args
		c.Args = args[1:]
		defer func() { c.Args = args }()
		return h(c)
	}
}

func shiftedKeys(keys func([][]byte) ([][]byte, error)) func([][]byte) ([][]byte, error) {
	return func(args [][]byte) ([][]byte, error) { return keys(args[1:]) }
}

// cmdBPop is BLPOP (left) and BRPOP: [key, item] from the first of the
// keys that holds a list, or a null array.
func cmdBPop(left bool) Handler {
	return func(c *Ctx) error {
		if _, err := lastArgTimeout(c.Args); err != nil {
			return err
		}
		return popFirst(c, c.Args[1:len(c.Args)-1], func(key []byte) (bool, error) {
			l, ok, err := getList(c, key)
			if err != nil || !ok {
				return false, err
			}
			v, err := l.pop(left)
			if err != nil {
				return false, err
			}
			if err := l.store(); err != nil {
				return false, err
			}
			l.notifyPopped(c, left)
			c.R.Array(2)
			c.R.Bulk(key)
			c.R.Bulk(v)
			return true, nil
		})
	}
}

func cmdBRPopLPush(c *Ctx) error {
	if _, err := lastArgTimeout(c.Args); err != nil {
		return err
	}
	return cmdRPopLPush(c)
}

func cmdBLMove(c *Ctx) error {
	if _, err := blmoveTimeout(c.Args); err != nil {
		return err
	}
	return cmdLMove(c)
}

// cmdBZPop is BZPOPMIN and BZPOPMAX (max): [key, member, score] from the
// first of the keys that holds a sorted set, or a null array.
func cmdBZPop(max bool) Handler {
	return func(c *Ctx) error {
		if _, err := lastArgTimeout(c.Args); err != nil {
			return err
		}
		return popFirst(c, c.Args[1:len(c.Args)-1], func(key []byte) (bool, error) {
			z, ok, err := getZSet(c, key)
			if err != nil || !ok {
				return false, err
			}
			items, err := z.pop(1, max)
			if err != nil || len(items) == 0 {
				return false, err
			}
			c.R.Array(3)
			c.R.Bulk(key)
			c.R.Bulk(items[0].member)
			replyScore(c, items[0].score)
			return true, nil
		})
	}
}

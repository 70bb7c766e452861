package storage

// overlay maps encoded keys to values a Txn has read or written (nil: the
// key is absent or deleted). Most commands touch one to three keys, so up
// to overlaySmall entries live in a slice searched linearly: allocating a
// map per command was a fifth of a SET's garbage.
type overlay struct {
	small []overlayEntry
	big   map[string][]byte
}

type overlayEntry struct {
	key string
	val []byte
}

const overlaySmall = 16

func (o *overlay) get(k []byte) ([]byte, bool) {
	if o.big != nil {
		v, ok := o.big[string(k)]
		return v, ok
	}
	for i := range o.small {
		if o.small[i].key == string(k) {
			return o.small[i].val, true
		}
	}
	return nil, false
}

func (o *overlay) set(k, v []byte) { o.setString(string(k), v) }

func (o *overlay) setString(k string, v []byte) {
	if o.big != nil {
		o.big[k] = v
		return
	}
	for i := range o.small {
		if o.small[i].key == k {
			o.small[i].val = v
			return
		}
	}
	if len(o.small) < overlaySmall {
		o.small = append(o.small, overlayEntry{k, v})
		return
	}
	o.big = make(map[string][]byte, 2*overlaySmall)
	for _, e := range o.small {
		o.big[e.key] = e.val
	}
	o.small = nil
	o.big[k] = v
}

func (o *overlay) empty() bool { return len(o.small) == 0 && len(o.big) == 0 }

// merge copies every entry of from into o (from's win).
func (o *overlay) merge(from *overlay) {
	if o.empty() {
		*o = *from // take over: from is discarded by the caller
		return
	}
	for _, e := range from.small {
		o.setString(e.key, e.val)
	}
	for k, v := range from.big {
		o.setString(k, v)
	}
}

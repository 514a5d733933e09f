package declaration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Change is one difference between two versions of a declaration: the JSON path of the field,
// such as "lines[1].quantity" or "documents[3]", and its value before and after as compact JSON
// ("" where the field or item did not exist on that side).
type Change struct {
	Path string `json:"path"`
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

func (c Change) String() string {
	switch {
	case c.From == "":
		return c.Path + ": added " + c.To
	case c.To == "":
		return c.Path + ": removed " + c.From
	}
	return c.Path + ": " + c.From + " -> " + c.To
}

// Diff lists the changes from before to after, field by field in the order the declaration's
// JSON lists them: objects are compared key by key, lists item by item, and a field or item present
// on one side only is one change carrying its whole value. Equal declarations have no changes.
// It uses no map, so that workflow code can call it and get the same list every time.
func Diff(before, after Declaration) []Change {
	a, err := tree(before)
	if err != nil {
		return []Change{{From: err.Error()}}
	}
	b, err := tree(after)
	if err != nil {
		return []Change{{To: err.Error()}}
	}
	var out []Change
	diffNodes("", a, b, &out)
	return out
}

// node is a JSON value in the order it was written: an object's fields in order, a list's items,
// or a scalar's compact JSON.
type node struct {
	kind   byte // '{', '[' or 0 for a scalar
	keys   []string
	items  []*node
	scalar string
}

// tree encodes v as JSON and reads it back as nodes.
func tree(v any) (*node, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode declaration: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return readNode(dec)
}

func readNode(dec *json.Decoder) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &node{kind: byte(t)}
		for dec.More() {
			if n.kind == '{' {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := k.(string)
				n.keys = append(n.keys, key)
			}
			item, err := readNode(dec)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, item)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	default:
		data, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		return &node{scalar: string(data)}, nil
	}
}

// field returns the value of an object's key, or nil.
func (n *node) field(key string) *node {
	for i, k := range n.keys {
		if k == key {
			return n.items[i]
		}
	}
	return nil
}

// json is the node as compact JSON, "" for nothing.
func (n *node) json() string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	n.write(&b)
	return b.String()
}

func (n *node) write(b *strings.Builder) {
	switch n.kind {
	case '{':
		b.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			key, _ := json.Marshal(k)
			b.Write(key)
			b.WriteByte(':')
			n.items[i].write(b)
		}
		b.WriteByte('}')
	case '[':
		b.WriteByte('[')
		for i, it := range n.items {
			if i > 0 {
				b.WriteByte(',')
			}
			it.write(b)
		}
		b.WriteByte(']')
	default:
		b.WriteString(n.scalar)
	}
}

func diffNodes(path string, a, b *node, out *[]Change) {
	switch {
	case a != nil && b != nil && a.kind == '{' && b.kind == '{':
		for i, k := range a.keys {
			diffNodes(join(path, k), a.items[i], b.field(k), out)
		}
		for i, k := range b.keys {
			if a.field(k) == nil {
				diffNodes(join(path, k), nil, b.items[i], out)
			}
		}
		return
	case a != nil && b != nil && a.kind == '[' && b.kind == '[':
		for i := 0; i < len(a.items) || i < len(b.items); i++ {
			var x, y *node
			if i < len(a.items) {
				x = a.items[i]
			}
			if i < len(b.items) {
				y = b.items[i]
			}
			diffNodes(fmt.Sprintf("%s[%d]", path, i), x, y, out)
		}
		return
	}
	if from, to := a.json(), b.json(); from != to {
		*out = append(*out, Change{Path: path, From: from, To: to})
	}
}

package embedded

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/server/common/dynamicconfig"
)

// Settings are server dynamic config settings by key, each with its values (a plain value, or
// values under constraints: a namespace, a task queue) as a dynamic config file gives them.
type Settings map[dynamicconfig.Key][]dynamicconfig.ConstrainedValue

// Set reads one setting as KEY=VALUE, the value in YAML or JSON (matching.enableFairness=false,
// frontend.namespaceRPS.visibility=200): it is a flag.Value. A key the server does not know, or
// a value it does not take for that key, is refused, naming both, and sets nothing.
func (s *Settings) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" {
		return fmt.Errorf("%q is not KEY=VALUE", kv)
	}
	key := dynamicconfig.MakeKey(strings.TrimSpace(k))
	var lr dynamicconfig.YamlLoader
	lr.LoadValue(key, []byte("- value: "+v))
	if err := errors.Join(append(lr.Errors, lr.Warnings...)...); err != nil {
		return fmt.Errorf("%s: %w", strings.TrimSpace(k), err)
	}
	if *s == nil {
		*s = Settings{}
	}
	(*s)[key] = lr.Map[key]
	return nil
}

// String lists the settings' keys and values.
func (s *Settings) String() string {
	if s == nil {
		return ""
	}
	var out []string
	for k, cvs := range *s {
		for _, cv := range cvs {
			out = append(out, fmt.Sprintf("%s=%v", k, cv.Value))
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

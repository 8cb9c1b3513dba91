package config

import (
	"encoding/json"
	"fmt"
)

// DeepMerge merges override into base with jq's `.[0] * .[1]` semantics, which HotPocket's devkit
// uses for a bundle's hp.cfg.override: objects merge key by key, recursively; arrays, scalars and
// null in override replace what base has.
func DeepMerge(base, override []byte) ([]byte, error) {
	var b, o any
	if err := json.Unmarshal(base, &b); err != nil {
		return nil, fmt.Errorf("merge: base: %w", err)
	}
	if err := json.Unmarshal(override, &o); err != nil {
		return nil, fmt.Errorf("merge: override: %w", err)
	}
	out, err := json.MarshalIndent(mergeValue(b, o), "", "    ")
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	return out, nil
}

func mergeValue(base, override any) any {
	bo, ok1 := base.(map[string]any)
	oo, ok2 := override.(map[string]any)
	if !ok1 || !ok2 {
		return override
	}
	out := make(map[string]any, len(bo)+len(oo))
	for k, v := range bo {
		out[k] = v
	}
	for k, v := range oo {
		out[k] = mergeValue(bo[k], v)
	}
	return out
}

package merkle

import (
	"fmt"
	"strings"
)

// MaxNameLen is the longest allowed name in bytes (as in Linux NAME_MAX).
const MaxNameLen = 255

// ValidateName reports whether name may be one entry of a directory. It rejects "", ".", "..",
// names containing '/' or NUL, and names longer than MaxNameLen bytes; the error wraps
// ErrInvalidName.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", ErrInvalidName)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: name of %d bytes exceeds %d", ErrInvalidName, len(name), MaxNameLen)
	case strings.IndexByte(name, '/') >= 0:
		return fmt.Errorf("%w: %q contains '/'", ErrInvalidName, name)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%w: %q contains NUL", ErrInvalidName, name)
	}
	return nil
}

// ValidatePath reports whether path names a node relative to the tree root: "" is the root,
// otherwise valid names joined by single '/' (no leading, trailing or doubled '/').
func ValidatePath(path string) error {
	_, err := splitPath(path)
	return err
}

// splitPath splits a validated path into its names; "" gives no names (the root).
func splitPath(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	names := strings.Split(path, "/")
	for _, n := range names {
		if err := ValidateName(n); err != nil {
			return nil, fmt.Errorf("path %q: %w", path, err)
		}
	}
	return names, nil
}

// splitParent splits a non-root path into its parent path and last name.
func splitParent(path string) (parent, name string, err error) {
	if err := ValidatePath(path); err != nil {
		return "", "", err
	}
	if path == "" {
		return "", "", fmt.Errorf("%w: the root has no parent", ErrInvalidName)
	}
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", path, nil
	}
	return path[:i], path[i+1:], nil
}

// joinPath joins a parent path and a name.
func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "/" + name
}

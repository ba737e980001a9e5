//go:build !linux

package sim

import (
	"errors"
	"os"
)

// OpenPTY is only implemented on Linux.
func OpenPTY() (master *os.File, slavePath string, err error) {
	return nil, "", errors.New("sim: OpenPTY is only supported on Linux")
}

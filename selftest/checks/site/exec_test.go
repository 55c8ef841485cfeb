package site

import osexec "os/exec"

func execOut(name string, args ...string) ([]byte, error) {
	return osexec.Command(name, args...).Output()
}

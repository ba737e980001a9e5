//go:build !linux

package transport

func clearHUPCL(string) {}

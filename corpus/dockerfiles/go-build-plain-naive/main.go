package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{Use: "rotor", Run: func(*cobra.Command, []string) { fmt.Println("rotating keys") }}
	root.Execute()
}

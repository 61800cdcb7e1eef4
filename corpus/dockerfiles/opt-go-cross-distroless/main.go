package main

import "log"

func main() {
	log.Println("eventrelay starting")
}

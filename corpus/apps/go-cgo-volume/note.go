package main

func note() string {
	return "health check"
}

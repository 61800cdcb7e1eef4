package main

/*
#include <unistd.h>
static long host_page_size(void) { return sysconf(_SC_PAGESIZE); }
*/
import "C"

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	dir := os.Getenv("DATA_DIR")
	if dir == "" {
		dir = "/data"
	}
	http.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		path := filepath.Join(dir, "notes.log")
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			http.Error(w, "cannot write the volume: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(f, "%s %s\n", time.Now().UTC().Format(time.RFC3339), note())
		f.Close()
		fmt.Fprintf(w, "{\"ok\":true,\"page_size\":%d,\"wrote\":%q}\n", int64(C.host_page_size()), path)
	})
	log.Printf("notes listening on %s, writing to %s", port, dir)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}

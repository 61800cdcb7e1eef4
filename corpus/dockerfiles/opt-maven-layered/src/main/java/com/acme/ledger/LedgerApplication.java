package com.acme.ledger;

@org.springframework.boot.autoconfigure.SpringBootApplication
public class LedgerApplication {
    public static void main(String[] a) { org.springframework.boot.SpringApplication.run(LedgerApplication.class, a); }
}

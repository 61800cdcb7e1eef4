package com.example.hello;

public final class Greeting {
    private Greeting() {}

    public static String status() {
        return "{\"up\": true, \"java\": \"" + System.getProperty("java.specification.version") + "\"}";
    }
}

package lab;

public final class Status {
    private Status() {
    }

    public static String json() {
        return "{\"jar\": \"running\", \"java\": \"" + System.getProperty("java.specification.version") + "\"}";
    }
}

package acme;

public class ReportGen {
    public static void main(String[] a) { System.out.println("report"); }
}

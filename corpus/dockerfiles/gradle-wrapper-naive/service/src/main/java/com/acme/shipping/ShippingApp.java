package com.acme.shipping;

public class ShippingApp {
    public static void main(String[] args) { System.out.println("shipping"); }
}

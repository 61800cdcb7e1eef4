package quotes

fun main() = println("quotes")

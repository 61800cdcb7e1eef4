plugins {
    kotlin("jvm") version "1.9.24"
    application
}

dependencies {
    implementation("io.ktor:ktor-server-netty:2.3.11")
    implementation("ch.qos.logback:logback-classic:1.5.6")
}

application { mainClass.set("quotes.MainKt") }

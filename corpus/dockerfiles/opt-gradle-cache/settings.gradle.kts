rootProject.name = "quotes"

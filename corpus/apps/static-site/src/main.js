import { greeting } from "./greeting.js";

document.getElementById("app").textContent = greeting("static site");

document.getElementById("main").textContent = "Cairn";

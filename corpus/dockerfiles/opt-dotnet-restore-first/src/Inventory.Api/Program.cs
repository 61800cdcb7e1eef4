var app = WebApplication.Create(args);
app.MapGet("/", () => "inventory");
app.Run();

<%@ Page Language="C#" %>
<html><body>Hello from IIS</body></html>

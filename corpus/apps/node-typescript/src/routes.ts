export interface Reply {
  status: number;
  body: Record<string, unknown>;
}

export function route(method: string, url: string): Reply {
  if (method === "GET" && url === "/health") {
    return { status: 200, body: { healthy: true, lang: "typescript" } };
  }
  if (method === "GET" && url.startsWith("/sum/")) {
    const nums = url.slice(5).split(",").map(Number);
    return { status: 200, body: { sum: nums.reduce((a, b) => a + b, 0) } };
  }
  return { status: 404, body: { error: "not found" } };
}

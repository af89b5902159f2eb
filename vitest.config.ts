import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Several tests spawn node processes; two cores run them slowly but surely.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});

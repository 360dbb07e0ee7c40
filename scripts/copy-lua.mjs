// tsc compiles only TypeScript: the Redis stores' .lua files are copied beside the compiled
// modules that read them (dist/src/store/redis/lua/), for `npm start` and the Docker image.
import { cpSync } from 'node:fs';

cpSync('src/store/redis/lua', 'dist/src/store/redis/lua', { recursive: true });

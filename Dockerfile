# The API (and the loader) on the official Deno image. Not built or run by CI here: this machine has
# no Docker engine (see README, "What was exercised here").
#
#   docker build -t taskapi .
#   docker run -p 5000:5000 -e DATABASE_URL=postgres://... -e JWT_SECRET=... taskapi
#   docker run --rm -v "$PWD:/in" -e DATABASE_URL=postgres://... taskapi ingest /in/people.csv
FROM denoland/deno:2.9.6

WORKDIR /app
# Dependencies first, so that a code change does not download them again.
COPY deno.json deno.lock ./
COPY cli.ts main.ts mod.ts ./
COPY src/ src/
COPY sql/ sql/
RUN deno install --frozen && deno cache --frozen cli.ts src/server/worker.ts

# The image's unprivileged user; the embedded database (when DATABASE_URL is unset) lives in /data.
RUN mkdir -p /data && chown deno:deno /data
USER deno
ENV HOST=0.0.0.0 PORT=5000 DATA_DIR=/data
# glibc then returns each freed 19 MiB password-hashing block to the OS (src/memory.ts).
ENV MALLOC_MMAP_THRESHOLD_=1048576
VOLUME /data
EXPOSE 5000

# The same flags as `deno task serve`, with the permissions it needs and no more.
ENTRYPOINT ["deno", "run", "--cached-only", "--frozen", "--unstable-no-legacy-abort", "--unstable-net", \
  "--allow-net", "--allow-env", "--allow-read", "--allow-write", "--allow-sys", "cli.ts"]
CMD ["serve"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD ["deno", "eval", "const r = await fetch('http://127.0.0.1:5000/health'); Deno.exit(r.ok ? 0 : 1)"]

"""Generated from proto/cashmatch/v1 by cashmatch.server.codegen."""

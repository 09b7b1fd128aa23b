"""Record shapes: how one `writer.Run` becomes the files a given orchestrator stores."""

"""What the reviewed files say: builder.yaml, tools.yaml, images/*/image.yaml, read and checked."""

"""What a party may see, as map layers: features for exports, OGC API - Features and CoT."""
